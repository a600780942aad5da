package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// parseString parses src as feeds.yaml and returns the config and the
// formatted problems, one string each.
func parseString(t *testing.T, src string) (Config, []string) {
	t.Helper()
	c, err := Parse(strings.NewReader(src), "feeds.yaml")
	var msgs []string
	for _, p := range Problems(err) {
		msgs = append(msgs, p.Error())
	}
	if err != nil && len(msgs) == 0 {
		t.Fatalf("Parse: error without problems: %v", err)
	}
	return c, msgs
}

// valid is a small correct file; cases below break one thing at a time.
const valid = `sources:
  - id: kei
    url: https://keia.org/feed/
    tags: [think-tank]
channels:
  - id: all
    title: All
    tags: [think-tank]
`

func TestParseProblems(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		want []string // every problem, formatted, in order
	}{
		{
			name: "unknown root key",
			src:  "sourcse: []\n",
			want: []string{`feeds.yaml:1: sourcse: unknown key (did you mean "sources"?)`},
		},
		{
			name: "unknown root key without near match",
			src:  "version: 2\n",
			want: []string{`feeds.yaml:1: version: unknown key (known keys: server, site, storage, fetch, sources, channels, dedupe, publish, mail)`},
		},
		{
			name: "unknown source key",
			src: `sources:
  - id: kei
    url: https://keia.org/feed/
    intervall: 30m
`,
			want: []string{`feeds.yaml:4: sources[0].intervall: unknown key (did you mean "interval"?)`},
		},
		{
			name: "unknown fetch key",
			src:  "fetch:\n  timeout: 5s\n  retries: 3\n",
			want: []string{`feeds.yaml:3: fetch.retries: unknown key (known keys: user_agent, contact, interval, timeout, max_body, allow_private_networks, concurrency, max_interval, host_gap, lease, adaptive, future_dates)`},
		},
		{
			name: "unknown channel key in flow mapping",
			src:  valid + "  - {id: b, title: B, tags: [think-tank], limt: 5}\n",
			want: []string{`feeds.yaml:9: channels[1].limt: unknown key (did you mean "limit"?)`},
		},
		{
			name: "duplicate mapping key",
			src: `sources:
  - id: kei
    url: https://keia.org/feed/
    url: https://keia.org/the-peninsula/feed/
`,
			want: []string{`feeds.yaml:4: sources[0].url: duplicate key (first at line 3)`},
		},
		{
			name: "duplicate root key",
			src:  "server:\n  listen: \":80\"\nserver:\n  listen: \":81\"\n",
			want: []string{`feeds.yaml:3: server: duplicate key (first at line 1)`},
		},
		{
			name: "integer for string list",
			src:  "sources:\n  - id: kei\n    url: https://keia.org/feed/\n    tags: think-tank\n",
			want: []string{`feeds.yaml:4: sources[0].tags: must be a list such as [a, b] (got "think-tank")`},
		},
		{
			name: "string for integer",
			src:  "fetch:\n  concurrency: \"8\"\n",
			want: []string{`feeds.yaml:2: fetch.concurrency: must be a whole number (got "8")`},
		},
		{
			name: "float for integer",
			src:  valid + "    limit: 2.5\n",
			want: []string{`feeds.yaml:9: channels[0].limit: must be a whole number (got 2.5)`},
		},
		{
			name: "yes for boolean",
			src:  "fetch:\n  allow_private_networks: yes\n",
			want: []string{`feeds.yaml:2: fetch.allow_private_networks: must be true or false (got "yes")`},
		},
		{
			name: "mapping for string",
			src:  "storage:\n  path:\n    file: x.db\n",
			want: []string{`feeds.yaml:2: storage.path: must be a string (got a mapping)`},
		},
		{
			name: "list for mapping",
			src:  "server:\n  - listen\n",
			want: []string{`feeds.yaml:1: server: must be a mapping with keys listen, base_url, max_connections, max_connections_per_ip (got a list)`},
		},
		{
			name: "mapping for list",
			src:  "sources:\n  id: kei\n",
			want: []string{`feeds.yaml:1: sources: must be a list such as [a, b] (got a mapping)`},
		},
		{
			name: "string for source",
			src:  "sources:\n  - kei\n",
			want: []string{`feeds.yaml:2: sources[0]: must be a mapping with keys id, url, title, tags, interval, disabled, include, exclude, languages, max_age, hide, limit, keep, scrape, identity (got "kei")`},
		},
		{
			name: "root is a list",
			src:  "- a\n- b\n",
			want: []string{`feeds.yaml:1: must be a mapping with keys server, site, storage, fetch, sources, channels, dedupe, publish, mail (got a list)`},
		},
		{
			name: "duplicate sources key",
			src:  valid + "sources:\n",
			want: []string{`feeds.yaml:9: sources: duplicate key (first at line 1)`},
		},
		{
			name: "duplicate source ids",
			src: `sources:
  - id: kei
    url: https://keia.org/feed/
    tags: [think-tank]
  - id: kei
    url: https://keia.org/the-peninsula/feed/
channels:
  - {id: all, title: All, tags: [think-tank]}
`,
			want: []string{`feeds.yaml:5: sources[1].id: duplicate id "kei" (also sources[0])`},
		},
		{
			name: "duplicate channel ids",
			src:  valid + "  - {id: all, title: Again, sources: [kei]}\n",
			want: []string{`feeds.yaml:9: channels[1].id: duplicate id "all" (also channels[0])`},
		},
		{
			name: "id with capitals and spaces",
			src:  strings.Replace(valid, "id: kei", "id: KEI Blog", 1),
			want: []string{`feeds.yaml:2: sources[0].id: must be lower-case letters, digits, ".", "_" or "-", starting with a letter or digit (got "KEI Blog")`},
		},
		{
			name: "id starting with a dash",
			src:  strings.Replace(valid, "id: all", "id: -all", 1),
			want: []string{`feeds.yaml:6: channels[0].id: must be lower-case letters, digits, ".", "_" or "-", starting with a letter or digit (got "-all")`},
		},
		{
			name: "id too long",
			src:  strings.Replace(valid, "id: all", "id: "+strings.Repeat("a", 65), 1),
			want: []string{`feeds.yaml:6: channels[0].id: must be at most 64 characters (got 65)`},
		},
		{
			name: "bad tag",
			src:  strings.Replace(valid, "tags: [think-tank]\nch", "tags: [think-tank, Think Tank]\nch", 1),
			want: []string{`feeds.yaml:4: sources[0].tags[1]: must be lower-case letters, digits, ".", "_" or "-", starting with a letter or digit (got "Think Tank")`},
		},
		{
			name: "relative source url",
			src:  strings.Replace(valid, "https://keia.org/feed/", "foo", 1),
			want: []string{`feeds.yaml:3: sources[0].url: must be an absolute http(s) URL (got "foo")`},
		},
		{
			name: "path-only source url",
			src:  strings.Replace(valid, "https://keia.org/feed/", "/feed/", 1),
			want: []string{`feeds.yaml:3: sources[0].url: must be an absolute http(s) URL (got "/feed/")`},
		},
		{
			name: "ftp source url",
			src:  strings.Replace(valid, "https://keia.org/feed/", "ftp://keia.org/feed", 1),
			want: []string{`feeds.yaml:3: sources[0].url: must be an absolute http(s) URL (got "ftp://keia.org/feed")`},
		},
		{
			name: "source url without host",
			src:  strings.Replace(valid, "https://keia.org/feed/", "https:///feed", 1),
			want: []string{`feeds.yaml:3: sources[0].url: must be an absolute http(s) URL (got "https:///feed")`},
		},
		{
			name: "relative base_url",
			src:  "server:\n  base_url: example.org\n",
			want: []string{`feeds.yaml:2: server.base_url: must be an absolute http(s) URL (got "example.org")`},
		},
		{
			name: "base_url with query",
			src:  "server:\n  base_url: https://example.org/?x=1\n",
			want: []string{`feeds.yaml:2: server.base_url: must not have a query or fragment (got "https://example.org/?x=1")`},
		},
		{
			name: "listen without port",
			src:  "server:\n  listen: localhost\n",
			want: []string{`feeds.yaml:2: server.listen: must be host:port such as ":8080" or "127.0.0.1:8080" (got "localhost")`},
		},
		{
			name: "empty storage path",
			src:  "storage:\n  path: \"\"\n",
			want: []string{`feeds.yaml:2: storage.path: required`},
		},
		{
			name: "contact not a URL or address",
			src:  "fetch:\n  contact: call us\n",
			want: []string{`feeds.yaml:2: fetch.contact: must be an http(s) URL or an e-mail address (got "call us")`},
		},
		{
			name: "days are not a duration",
			src:  "fetch:\n  interval: 1d\n",
			want: []string{`feeds.yaml:2: fetch.interval: must be a duration such as "90s", "30m" or "1h" (got "1d")`},
		},
		{
			name: "bare number is not a duration",
			src:  "fetch:\n  timeout: 20\n",
			want: []string{`feeds.yaml:2: fetch.timeout: must be a duration such as "90s", "30m" or "1h" (got 20)`},
		},
		{
			name: "interval under a second",
			src:  "fetch:\n  interval: 500ms\n",
			want: []string{`feeds.yaml:2: fetch.interval: must be at least 1s (got 500ms)`},
		},
		{
			name: "inherited short interval reported once",
			src:  valid + "fetch:\n  interval: 0s\n",
			want: []string{`feeds.yaml:10: fetch.interval: must be at least 1s (got 0s)`},
		},
		{
			name: "zero source interval",
			src:  strings.Replace(valid, "tags: [think-tank]\nch", "tags: [think-tank]\n    interval: 0s\nch", 1),
			want: []string{`feeds.yaml:5: sources[0].interval: must be at least 1s (got 0s)`},
		},
		{
			name: "zero timeout",
			src:  "fetch:\n  timeout: 0s\n",
			want: []string{`feeds.yaml:2: fetch.timeout: must be more than 0s (got 0s)`},
		},
		{
			name: "negative timeout",
			src:  "fetch:\n  timeout: -5s\n",
			want: []string{`feeds.yaml:2: fetch.timeout: must be more than 0s (got -5s)`},
		},
		{
			name: "size with a unit we do not know",
			src:  "fetch:\n  max_body: 10 megs\n",
			want: []string{`feeds.yaml:2: fetch.max_body: must be a size such as "10MB", "512KiB" or a number of bytes (got "10 megs")`},
		},
		{
			name: "fractional size",
			src:  "fetch:\n  max_body: 1.5MB\n",
			want: []string{`feeds.yaml:2: fetch.max_body: must be a size such as "10MB", "512KiB" or a number of bytes (got "1.5MB")`},
		},
		{
			name: "zero size",
			src:  "fetch:\n  max_body: 0\n",
			want: []string{`feeds.yaml:2: fetch.max_body: must be more than 0 bytes (got 0)`},
		},
		{
			name: "concurrency zero",
			src:  "fetch:\n  concurrency: 0\n",
			want: []string{`feeds.yaml:2: fetch.concurrency: must be between 1 and 100 (got 0)`},
		},
		{
			name: "channel names a missing source",
			src:  valid + "  - {id: b, title: B, sources: [kei, kie]}\n",
			want: []string{`feeds.yaml:9: channels[1].sources[1]: no source has id "kie"`},
		},
		{
			name: "channel tag no source carries",
			src:  valid + "  - id: b\n    title: B\n    tags: [think-tank, news]\n",
			want: []string{`feeds.yaml:11: channels[1].tags[1]: no source has tag "news"`},
		},
		{
			name: "channel selecting nothing",
			src:  valid + "  - id: b\n    title: B\n",
			want: []string{`feeds.yaml:9: channels[1]: selects no sources; give it sources, tags or both`},
		},
		{
			name: "channel limit zero",
			src:  valid + "    limit: 0\n",
			want: []string{`feeds.yaml:9: channels[0].limit: must be between 1 and 1000 (got 0)`},
		},
		{
			name: "channel limit too high",
			src:  valid + "    limit: 1001\n",
			want: []string{`feeds.yaml:9: channels[0].limit: must be between 1 and 1000 (got 1001)`},
		},
		{
			name: "misspelt root key after the others",
			src:  valid + "sourcez: 1\n",
			want: []string{`feeds.yaml:9: sourcez: unknown key (did you mean "sources"?)`},
		},
		{
			name: "missing source id and url",
			src: `sources:
  - title: KEI
    tags: [think-tank]
channels:
  - {id: all, title: All, tags: [think-tank]}
`,
			want: []string{
				`feeds.yaml:2: sources[0].id: required`,
				`feeds.yaml:2: sources[0].url: required`,
			},
		},
		{
			name: "null source url",
			src:  strings.Replace(valid, "url: https://keia.org/feed/", "url:", 1),
			want: []string{`feeds.yaml:3: sources[0].url: required`},
		},
		{
			name: "missing channel id and title",
			src:  valid + "  - tags: [think-tank]\n",
			want: []string{
				`feeds.yaml:9: channels[1].id: required`,
				`feeds.yaml:9: channels[1].title: required`,
			},
		},
		{
			name: "empty list entry",
			src:  valid + "  -\n",
			want: []string{
				`feeds.yaml:9: channels[1].id: required`,
				`feeds.yaml:9: channels[1].title: required`,
				`feeds.yaml:9: channels[1]: selects no sources; give it sources, tags or both`,
			},
		},
		{
			name: "syntax error",
			src:  "sources:\n  - id: kei\n    url: [https://keia.org/feed/\n",
			want: []string{`feeds.yaml:3: invalid YAML: sequence end token ']' not found`},
		},
		{
			name: "bad indentation",
			src:  "server:\n  listen: \":80\"\n base_url: http://x\n",
			want: []string{`feeds.yaml:3: invalid YAML: value is not allowed in this context`},
		},
		{
			name: "two documents",
			src:  valid + "---\nserver:\n  listen: \":81\"\n",
			want: []string{`feeds.yaml:10: more than one YAML document (---); keep one`},
		},
		{
			name: "alias",
			src:  "fetch:\n  interval: &i 2h\n  timeout: *i\n",
			want: []string{`feeds.yaml:3: fetch.timeout: aliases (*name) are not supported; write the value out`},
		},
		{
			name: "tag",
			src:  "fetch:\n  concurrency: !!int \"4\"\n",
			want: []string{`feeds.yaml:2: fetch.concurrency: YAML tags (!name) are not supported`},
		},
		{
			name: "complex key",
			src:  "? [a, b]\n: c\n",
			want: []string{`feeds.yaml:2: invalid YAML: found an invalid key for this map`},
		},
		{
			name: "tagged key",
			src:  "!!str sources: []\n",
			want: []string{`feeds.yaml:1: keys must be plain names (got a tagged value)`},
		},
		{
			name: "invalid UTF-8",
			src:  "sources: []\n# caf\xe9\n",
			want: []string{`feeds.yaml:2: not valid UTF-8; save the file as UTF-8`},
		},
		{
			name: "too large",
			src:  "#" + strings.Repeat("x", maxFileSize),
			want: []string{`feeds.yaml: file is larger than 256KiB`},
		},
		{
			name: "too many keys",
			src:  strings.Repeat("a: 1\n", 10001),
			want: []string{`feeds.yaml:10001: invalid YAML: more than 10000 keys`},
		},
		{
			name: "flow collections nested too deep",
			src:  "sources:\n  - tags: " + strings.Repeat("[", 10000) + "\n",
			want: []string{`feeds.yaml:2: invalid YAML: [ ] and { } nested more than 20 deep`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, got := parseString(t, tc.src)
			if !slices.Equal(got, tc.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if len(got) > 0 && (len(c.Sources) != 0 || c.Server.Listen != "") {
				t.Errorf("config after failure = %+v, want the zero Config", c)
			}
		})
	}
}

// TestParseReportsEveryProblem breaks one file in many independent ways and
// expects exactly one problem for each, in line order.
func TestParseReportsEveryProblem(t *testing.T) {
	src := `server:
  listen: 8080
  base_url: "ftp://example.org"
storage:
  path: ""
fetch:
  interval: 1d
  timeout: 0s
  max_body: lots
  concurrency: "8"
  allow_private_networks: yes
  agent: x
sources:
  - id: KEI
    url: https://keia.org/feed/
    tags: [think-tank]
  - id: b
    url: foo
    tags: [think-tank]
    intervall: 1m
  - id: b
    url: https://example.org/b
    url: https://example.org/c
  - just a string
  - url: https://example.org/d
    interval: *x
channels:
  - id: c
    title: C
    sources: [zz]
    tags: [nope]
    limit: 0
  - id: d
  - id: Bad
    title: Bad
    tags: think-tank
`
	wantLines := []int{2, 3, 5, 7, 8, 9, 10, 11, 12, 14, 18, 20, 21, 23, 24, 25, 26, 30, 31, 32, 33, 33, 34, 36}
	_, err := Parse(strings.NewReader(src), "feeds.yaml")
	probs := Problems(err)
	var lines []int
	for _, p := range probs {
		lines = append(lines, p.Line)
	}
	if !slices.Equal(lines, wantLines) {
		t.Errorf("problem lines %v\nwant %v\nerror:\n%v", lines, wantLines, err)
	}
	if got, want := len(strings.Split(err.Error(), "\n")), len(wantLines); got != want {
		t.Errorf("error text has %d lines, want %d", got, want)
	}
}

func TestParseCountsProblems(t *testing.T) {
	// n sources with a bad url each: n problems, n lines.
	for _, n := range []int{1, 2, 7} {
		var b strings.Builder
		b.WriteString("sources:\n")
		for i := range n {
			fmt.Fprintf(&b, "  - id: s%d\n    url: nowhere%d\n", i, i)
		}
		_, err := Parse(strings.NewReader(b.String()), "feeds.yaml")
		probs := Problems(err)
		if got := len(probs); got != n {
			t.Fatalf("%d bad sources: %d problems, want %d: %v", n, got, n, err)
		}
		for i, p := range probs {
			if got, want := p.Line, 3+2*i; got != want {
				t.Errorf("problem %d line=%d, want %d", i, got, want)
			}
			if got, want := p.Path, fmt.Sprintf("sources[%d].url", i); got != want {
				t.Errorf("problem %d path=%q, want %q", i, got, want)
			}
		}
	}
}

func TestParseEmpty(t *testing.T) {
	for _, src := range []string{"", "\n", "# only a comment\n", "---\n", "\xef\xbb\xbf", "sources: []\nchannels: []\n", "sources:\nchannels:\n"} {
		c, err := Parse(strings.NewReader(src), "feeds.yaml")
		if err != nil {
			t.Errorf("Parse(%q): %v", src, err)
			continue
		}
		c.file = fileFacts{} // what Parse saw of the file, for CheckReload
		if got, want := fmt.Sprint(c), fmt.Sprint(Default()); got != want {
			t.Errorf("Parse(%q) = %s, want Default() %s", src, got, want)
		}
	}
}

func TestParseValues(t *testing.T) {
	src := "\xef\xbb\xbf" + `# a BOM and comments are fine
server:
  listen: "127.0.0.1:9000"
  base_url: https://news.example.org/korea/
storage: {path: /var/lib/aggregator/db}
fetch:
  user_agent: "KPolicyBot/1.0"
  contact: mailto:web@example.org
  interval: 2h
  timeout: 45s
  max_body: 512KB
  allow_private_networks: true
  concurrency: 3
sources:
  - id: kei-peninsula
    url: https://keia.org/the-peninsula/feed/
    title: The Peninsula
    tags: [think-tank, kei]
    interval: 30m
  - id: 38north
    url: https://www.38north.org/feed/
    disabled: true
    title:
channels:
  - id: the-peninsula
    title: >
      The
      Peninsula
    description: |
      KEI's blog.
    sources: [kei-peninsula]
  - id: all
    title: All
    sources: [38north]
    tags: [think-tank]
    limit: 1000
`
	c, err := Parse(strings.NewReader(src), "feeds.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Server, (Server{Listen: "127.0.0.1:9000", BaseURL: "https://news.example.org/korea"}); got != want {
		t.Errorf("server=%+v, want %+v", got, want)
	}
	if got, want := c.Storage.Path, "/var/lib/aggregator/db"; got != want {
		t.Errorf("storage.path=%q, want %q", got, want)
	}
	wantFetch := Fetch{UserAgent: "KPolicyBot/1.0", Contact: "mailto:web@example.org", Interval: 2 * time.Hour,
		Timeout: 45 * time.Second, MaxBody: 512000, AllowPrivateNetworks: true, Concurrency: 3,
		MaxInterval: DefaultMaxInterval, HostGap: DefaultHostGap, Lease: DefaultLease}
	if got := c.Fetch; got != wantFetch {
		t.Errorf("fetch=%+v, want %+v", got, wantFetch)
	}
	if got, want := len(c.Sources), 2; got != want {
		t.Fatalf("%d sources, want %d", got, want)
	}
	s0, s1 := c.Sources[0], c.Sources[1]
	if s0.ID != "kei-peninsula" || s0.URL != "https://keia.org/the-peninsula/feed/" || s0.Title != "The Peninsula" ||
		!slices.Equal(s0.Tags, []string{"think-tank", "kei"}) || s0.Interval != 30*time.Minute || s0.Disabled {
		t.Errorf("sources[0]=%+v", s0)
	}
	if s1.ID != "38north" || !s1.Disabled || s1.Title != "" || s1.Interval != 2*time.Hour {
		t.Errorf("sources[1]=%+v (interval should default to fetch.interval)", s1)
	}
	ch0, ch1 := c.Channels[0], c.Channels[1]
	if got, want := ch0.Title, "The Peninsula\n"; got != want {
		t.Errorf("channels[0].title=%q, want %q", got, want)
	}
	if got, want := ch0.Description, "KEI's blog.\n"; got != want {
		t.Errorf("channels[0].description=%q, want %q", got, want)
	}
	if got, want := ch0.Limit, DefaultChannelLimit; got != want {
		t.Errorf("channels[0].limit=%d, want default %d", got, want)
	}
	if got, want := ch1.Limit, 1000; got != want {
		t.Errorf("channels[1].limit=%d, want %d", got, want)
	}
	if got, want := ch1.SourceIDs(c.Sources), []string{"kei-peninsula", "38north"}; !slices.Equal(got, want) {
		t.Errorf("channels[1] selects %v, want %v", got, want)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("Validate after Parse: %v", err)
	}
}

func TestParseSizes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{
		{"10MB", 10_000_000},
		{"10MiB", 10 << 20},
		{"512KB", 512_000},
		{"512 kib", 512 << 10},
		{"1GiB", 1 << 30},
		{"2GB", 2_000_000_000},
		{"100B", 100},
		{"4096", 4096},
		{`"4096"`, 4096},
	} {
		c, err := Parse(strings.NewReader("fetch:\n  max_body: "+tc.in+"\n"), "feeds.yaml")
		if err != nil {
			t.Errorf("max_body %s: %v", tc.in, err)
			continue
		}
		if got := c.Fetch.MaxBody; got != tc.want {
			t.Errorf("max_body %s = %d, want %d", tc.in, got, tc.want)
		}
	}
}

// errReader fails every read.
type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestParseReadError(t *testing.T) {
	_, err := Parse(errReader{}, "feeds.yaml")
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("err=%v, want the read error", err)
	}
	if got := Problems(err); len(got) != 0 {
		t.Errorf("read error reported as problems %v", got)
	}
}

func TestParseProblemsCapped(t *testing.T) {
	src := "sources:\n" + strings.Repeat("  - {id: a, url: nowhere}\n", 150)
	_, err := Parse(strings.NewReader(src), "feeds.yaml")
	probs := Problems(err)
	// 150 bad urls and 149 duplicate ids: the first 100 by line, then a count.
	if got, want := len(probs), maxProblems+1; got != want {
		t.Fatalf("%d problems, want %d", got, want)
	}
	if got, want := probs[maxProblems].Error(), "feeds.yaml: 199 more problems not shown"; got != want {
		t.Errorf("last problem %q, want %q", got, want)
	}
	if got, want := probs[maxProblems-1].Line, 52; got != want {
		t.Errorf("problem %d on line %d, want %d", maxProblems-1, got, want)
	}
}
