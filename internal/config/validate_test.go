package config

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

// sample is a valid configuration built in code, as a caller of Validate
// would have it.
func sample() Config {
	c := Default()
	c.Fetch.Contact = "https://example.org/about"
	c.Sources = []feed.Source{
		{ID: "kei", URL: "https://keia.org/feed/", Tags: []string{"think-tank"}, Interval: time.Hour},
		{ID: "38north", URL: "https://www.38north.org/feed/", Tags: []string{"think-tank", "north-korea"}, Interval: time.Hour},
	}
	c.Channels = []feed.Channel{
		{ID: "think-tanks", Title: "Think tanks", Tags: []string{"think-tank"}, Limit: 50},
		{ID: "38n", Title: "38 North", Sources: []string{"38north"}, Limit: 50},
	}
	return c
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(c *Config)
		want   []string
	}{
		{"valid", func(c *Config) {}, nil},
		{"zero source interval", func(c *Config) { c.Sources[1].Interval = 0 },
			[]string{"sources[1].interval: must be at least 1s (got 0s)"}},
		{"zero channel limit", func(c *Config) { c.Channels[0].Limit = 0 },
			[]string{"channels[0].limit: must be between 1 and 1000 (got 0)"}},
		{"base_url with trailing slash", func(c *Config) { c.Server.BaseURL = "https://example.org/" },
			[]string{`server.base_url: must not end with / (got "https://example.org/")`}},
		{"empty listen and base_url", func(c *Config) { c.Server = Server{} },
			[]string{"server.listen: required", "server.base_url: required"}},
		{"port out of range", func(c *Config) { c.Server.Listen = ":70000" },
			[]string{`server.listen: must be host:port such as ":8080" or "127.0.0.1:8080" (got ":70000")`}},
		{"user agent with a line break", func(c *Config) { c.Fetch.UserAgent = "bot\r\nX-Evil: 1" },
			[]string{"fetch.user_agent: must not contain control characters or line breaks"}},
		{"too much concurrency", func(c *Config) { c.Fetch.Concurrency = 101 },
			[]string{"fetch.concurrency: must be between 1 and 100 (got 101)"}},
		{"lease under 5s", func(c *Config) { c.Fetch.Lease = 2 * time.Second },
			[]string{"fetch.lease: must be at least 5s (got 2s): a shorter lease is lost on any stall"}},
		{"negative max_body", func(c *Config) { c.Fetch.MaxBody = -1 },
			[]string{"fetch.max_body: must be more than 0 bytes (got -1)"}},
		{"url with spaces", func(c *Config) { c.Sources[0].URL = "https://keia.org/the peninsula/feed/" },
			[]string{`sources[0].url: must be an absolute http(s) URL (got "https://keia.org/the peninsula/feed/")`}},
		{"blank channel title", func(c *Config) { c.Channels[1].Title = "  " },
			[]string{"channels[1].title: required"}},
		{"disabled source still counts for tags", func(c *Config) { c.Sources[0].Disabled = true }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := sample()
			tc.change(&c)
			var got []string
			for _, p := range Problems(c.Validate()) {
				if p.File != "" || p.Line != 0 {
					t.Errorf("Validate gave a position: %+v", p)
				}
				got = append(got, p.Error())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestValidContact(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"https://example.org/contact", true},
		{"http://example.org", true},
		{"mailto:web@example.org", true},
		{"web@example.org", true},
		{"web@", false},
		{"@example.org", false},
		{"a@b@c", false},
		{"mailto:nobody", false},
		{"ftp://example.org", false},
		{"https://", false},
		{"web @example.org", false},
		{"example.org", false},
	} {
		if got := validContact(tc.in); got != tc.want {
			t.Errorf("validContact(%q)=%v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestWarnings(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(c *Config)
		want   []string
	}{
		{"none", func(c *Config) {}, nil},
		{"fast poll of a public host", func(c *Config) { c.Sources[1].Interval = time.Minute },
			[]string{"sources[1].interval: 1m polls a public host more often than every 5m"}},
		{"fast poll of a disabled source", func(c *Config) {
			c.Sources[0].Interval = time.Minute
			c.Sources[0].Disabled = true
		}, nil},
		{"fast poll of loopback", func(c *Config) {
			c.Sources[0].URL = "http://127.0.0.1:8081/feed"
			c.Sources[1].URL = "http://localhost/feed"
			c.Sources[0].Interval = 10 * time.Second
			c.Sources[1].Interval = 10 * time.Second
		}, nil},
		{"exactly five minutes", func(c *Config) { c.Sources[0].Interval = 5 * time.Minute }, nil},
		{"source in no channel", func(c *Config) {
			c.Sources = append(c.Sources, feed.Source{ID: "orphan", URL: "https://orphan.example/", Interval: time.Hour})
		}, []string{`sources[2]: "orphan" is in no channel, so its items are stored but never published`}},
		{"no channels at all", func(c *Config) { c.Channels = nil },
			[]string{"channels: none listed, so nothing polled is published"}},
		{"same url twice", func(c *Config) { c.Sources[1].URL = c.Sources[0].URL },
			[]string{"sources[1].url: same URL as sources[0]"}},
		{"no contact", func(c *Config) { c.Fetch.Contact = "" },
			[]string{"fetch.contact: empty; set a URL or e-mail address so publishers can reach whoever runs the aggregator"}},
		{"no contact but own user agent", func(c *Config) {
			c.Fetch.Contact = ""
			c.Fetch.UserAgent = "KPolicyBot/1 (+https://example.org)"
		}, nil},
		{"private networks", func(c *Config) { c.Fetch.AllowPrivateNetworks = true },
			[]string{"fetch.allow_private_networks: true lets source URLs reach loopback and private addresses; use it only for testing"}},
		{"channel of disabled sources", func(c *Config) { c.Sources[1].Disabled = true },
			[]string{"channels[1]: every source it selects is disabled"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := sample()
			tc.change(&c)
			if err := c.Validate(); err != nil {
				t.Fatalf("the case must stay valid: %v", err)
			}
			if got := c.Warnings(); !slices.Equal(got, tc.want) {
				t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestWarningsAfterParse checks that a source's inherited interval is
// judged like its own.
func TestWarningsAfterParse(t *testing.T) {
	src := `fetch:
  interval: 2m
  contact: web@example.org
sources:
  - {id: a, url: "https://a.example/feed", tags: [x]}
  - {id: b, url: "https://b.example/feed", tags: [x], interval: 1h}
channels:
  - {id: all, title: All, tags: [x]}
`
	c, err := Parse(strings.NewReader(src), "feeds.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"sources[0].interval: 2m polls a public host more often than every 5m"}
	if got := c.Warnings(); !slices.Equal(got, want) {
		t.Errorf("warnings %q, want %q", got, want)
	}
}
