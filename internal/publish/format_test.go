package publish

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

const testBase = "http://localhost:8080"

var kst = time.FixedZone("KST", 9*60*60)

// mixedInput is the fixed input of the "mixed" golden files: items from
// two sources covering what rendering has to get right.
func mixedInput() Input {
	items := []feed.Item{
		{ // HTML everywhere, full author, categories with scheme, two enclosures
			SourceID: "alpha", Key: "id:https://alpha.example/posts/1",
			ID: "https://alpha.example/posts/1", IDIsPermaLink: true,
			Link:       "https://alpha.example/posts/1",
			Title:      "Tom & Jerry <3",
			Summary:    `<p>Short <b>summary</b> &amp; more</p>`,
			Content:    `<p>Full <em>HTML</em> content &amp; more</p><p><img src="https://alpha.example/a.png" alt="a"></p>`,
			Authors:    []feed.Person{{Name: "Kim Min-ji", Email: "minji@alpha.example", URI: "https://alpha.example/~minji"}},
			Categories: []feed.Category{{Term: "politics", Scheme: "https://alpha.example/categories", Label: "Politics"}, {Term: "korea"}},
			Enclosures: []feed.Enclosure{
				{URL: "https://alpha.example/ep1.mp3", Type: "audio/mpeg", Length: 12345},
				{URL: "https://alpha.example/photo.jpg"},
			},
			Language:  "en",
			Published: time.Date(2024, 3, 1, 9, 0, 0, 0, kst),
			Updated:   time.Date(2024, 3, 2, 10, 30, 0, 500, time.UTC),
			FirstSeen: time.Date(2024, 3, 1, 0, 5, 0, 0, time.UTC),
			Dated:     true,
		},
		{ // Korean, non-URL guid, author name only, no content
			SourceID: "beta", Key: "id:12345", ID: "12345",
			Link:       "https://beta.example/news?id=12345&lang=ko",
			Title:      "한국어 제목: 서울 날씨",
			Summary:    "<p>서울은 맑음</p>",
			Authors:    []feed.Person{{Name: "홍길동"}},
			Categories: []feed.Category{{Term: "날씨"}, {Term: "날씨", Scheme: "https://beta.example/tags"}},
			Language:   "ko",
			Published:  time.Date(2024, 2, 28, 18, 0, 0, 0, kst),
			Updated:    time.Date(2024, 2, 28, 18, 0, 0, 0, kst),
			FirstSeen:  time.Date(2024, 2, 28, 9, 10, 0, 0, time.UTC),
			Dated:      true,
		},
		{ // no title, no date, no upstream id, no author
			SourceID: "beta", Key: "link:https://beta.example/notes/7",
			Link:      "https://beta.example/notes/7",
			Summary:   "<p>A note without a title.</p>",
			Published: time.Date(2024, 2, 27, 7, 0, 0, 0, time.UTC),
			Updated:   time.Date(2024, 2, 27, 7, 0, 0, 0, time.UTC),
			FirstSeen: time.Date(2024, 2, 27, 7, 0, 0, 0, time.UTC),
		},
		{ // tag: id (an IRI, not a URL), enclosure with length but no type, email-only author
			SourceID: "alpha", Key: "id:tag:alpha.example,2024:post-9",
			ID: "tag:alpha.example,2024:post-9", IDIsPermaLink: true,
			Link:       "https://alpha.example/posts/9",
			Title:      "Episode 9",
			Content:    "<p>Listen: the ]]> sequence must survive CDATA, a \x0b control character must not break XML.</p>",
			Authors:    []feed.Person{{Email: "desk@alpha.example"}, {Name: "Lee", URI: "https://alpha.example/~lee"}},
			Enclosures: []feed.Enclosure{{URL: "https://alpha.example/ep9.mp3", Length: 999}},
			Published:  time.Date(2024, 2, 20, 12, 0, 0, 0, time.UTC),
			Updated:    time.Date(2024, 2, 21, 12, 0, 0, 0, time.UTC),
			FirstSeen:  time.Date(2024, 2, 20, 12, 1, 0, 0, time.UTC),
			Dated:      true,
		},
	}
	return Input{
		Channel: feed.Channel{ID: "mixed", Title: "Mixed & Matched", Description: "Items from two sources",
			Sources: []string{"alpha", "beta"}, Limit: 50},
		Items: items,
		Sources: map[string]SourceInfo{
			"alpha": {ID: "alpha", Title: "Alpha Blog", FeedURL: "https://alpha.example/feed.xml",
				Link: "https://alpha.example/", Updated: time.Date(2024, 3, 3, 0, 0, 0, 0, time.UTC)},
			"beta": {ID: "beta", Title: "베타 뉴스", FeedURL: "https://beta.example/rss?cat=all&x=1",
				Link: "https://beta.example/", Updated: time.Date(2024, 3, 3, 1, 0, 0, 0, time.UTC)},
		},
		BaseURL: testBase,
		Site:    feed.Site{Title: "Institute for Korea & Co", Language: "en"},
	}
}

// mergedInput is a full archive page (fh:archive, prev/next/current links)
// of a channel with a hub: XHTML content with relative links, a Korean
// language tag, a story merged from two sources (rel="via"), and another
// source's item under the same upstream id, which the store did not merge:
// it is published too, under its generated id.
func mergedInput() Input {
	in := mixedInput()
	var items []feed.Item
	items = append(items,
		feed.Item{ // XHTML content (as parse leaves it), relative URLs, a story merged from another source
			SourceID: "beta", Key: "id:https://beta.example/xhtml/1", ID: "https://beta.example/xhtml/1",
			Link:      "https://beta.example/xhtml/1",
			Title:     "XHTML & relative links",
			Content:   `<div xmlns="http://www.w3.org/1999/xhtml"><p>Line<br/>break, <a href="/about">about</a>, <img src="img/x.png" alt="x"/></p></div>`,
			Language:  "ko-KR",
			Published: time.Date(2024, 2, 19, 8, 0, 0, 0, time.UTC),
			Updated:   time.Date(2024, 2, 19, 8, 0, 0, 0, time.UTC),
			FirstSeen: time.Date(2024, 2, 19, 8, 1, 0, 0, time.UTC),
			Dated:     true,
			Seq:       7,
			Origins: []feed.Origin{
				{SourceID: "beta", Key: "id:https://beta.example/xhtml/1", Link: "https://beta.example/xhtml/1", Rule: "link"},
				{SourceID: "alpha", Key: "id:https://alpha.example/copy/1", Link: "https://alpha.example/copy/1", Rule: "link"},
			},
		},
		feed.Item{ // the same upstream id from another source: published under its generated id
			SourceID: "alpha", Key: "id:https://beta.example/xhtml/1", ID: "https://beta.example/xhtml/1",
			Link:      "https://alpha.example/copy/1",
			Title:     "XHTML & relative links (copy)",
			Summary:   "<p>copy</p>",
			Published: time.Date(2024, 2, 19, 7, 0, 0, 0, time.UTC),
			Updated:   time.Date(2024, 2, 19, 7, 0, 0, 0, time.UTC),
			FirstSeen: time.Date(2024, 2, 19, 8, 2, 0, 0, time.UTC),
			Dated:     true,
		},
	)
	in.Channel.ID = "merged"
	in.Items = items
	in.Hubs = []string{testBase + "/websub"}
	in.Archive = Archive{Page: 2, Pages: 3}
	return in
}

// emptyInput is a channel whose one source has no items yet.
func emptyInput() Input {
	return Input{
		Channel: feed.Channel{ID: "empty", Title: "Empty", Sources: []string{"gamma"}, Limit: 10},
		Sources: map[string]SourceInfo{
			"gamma": {ID: "gamma", Title: "Gamma", FeedURL: "https://gamma.example/atom",
				Link: "https://gamma.example/atom", Updated: time.Date(2024, 1, 5, 6, 7, 8, 0, time.UTC)},
		},
		BaseURL: testBase,
	}
}

func goldenInputs() []Input {
	return []Input{mixedInput(), emptyInput(), mergedInput(), originsInput()}
}

func goldenPath(channelID string, f Format) string {
	return filepath.Join("testdata", "golden", channelID+"."+string(f))
}

// checkGolden renders every golden input in format f and compares it with
// its golden file, rewriting the file under -update.
func checkGolden(t *testing.T, f Format) {
	t.Helper()
	for _, in := range goldenInputs() {
		t.Run(in.Channel.ID, func(t *testing.T) {
			got, err := Render(in, f)
			if err != nil {
				t.Fatal(err)
			}
			path := goldenPath(in.Channel.ID, f)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Render(%s, %s) differs from %s (go test -update rewrites it):\n%s", in.Channel.ID, f, path, got)
			}
		})
	}
}

// mustRender renders in as f or fails the test.
func mustRender(t testing.TB, in Input, f Format) []byte {
	t.Helper()
	b, err := Render(in, f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseFormat(t *testing.T) {
	for _, f := range Formats {
		got, err := ParseFormat(string(f))
		if err != nil || got != f {
			t.Errorf("ParseFormat(%q) = %q, %v; want %q, nil", f, got, err, f)
		}
	}
	for _, s := range []string{"xml", "", "ATOM", "rss2", ".json"} {
		if _, err := ParseFormat(s); !errors.Is(err, ErrUnknownFormat) {
			t.Errorf("ParseFormat(%q) error = %v, want ErrUnknownFormat", s, err)
		}
	}
}

func TestContentType(t *testing.T) {
	for f, want := range map[Format]string{
		Atom:         "application/atom+xml; charset=utf-8",
		RSS:          "application/rss+xml; charset=utf-8",
		JSON:         "application/feed+json; charset=utf-8",
		Format("xx"): "application/octet-stream",
	} {
		if got := f.ContentType(); got != want {
			t.Errorf("%q.ContentType() = %q, want %q", f, got, want)
		}
	}
}

func TestRenderUnknownFormat(t *testing.T) {
	if _, err := Render(mixedInput(), Format("xml")); !errors.Is(err, ErrUnknownFormat) {
		t.Fatalf("Render(xml) error = %v, want ErrUnknownFormat", err)
	}
}

// TestRenderDeterministic renders the same input many times: map order or
// the clock must not leak into the bytes.
func TestRenderDeterministic(t *testing.T) {
	for _, f := range Formats {
		first := mustRender(t, mixedInput(), f)
		for range 20 {
			if got := mustRender(t, mixedInput(), f); !bytes.Equal(got, first) {
				t.Fatalf("%s: two renders of the same input differ", f)
			}
		}
	}
}

func TestFeedUpdated(t *testing.T) {
	t.Run("newest item", func(t *testing.T) {
		if got, want := feedUpdated(mixedInput()), time.Date(2024, 3, 2, 10, 30, 0, 0, time.UTC); !got.Equal(want) {
			t.Errorf("feedUpdated = %v, want %v", got, want)
		}
	})
	t.Run("empty channel: newest source success", func(t *testing.T) {
		if got, want := feedUpdated(emptyInput()), time.Date(2024, 1, 5, 6, 7, 8, 0, time.UTC); !got.Equal(want) {
			t.Errorf("feedUpdated = %v, want %v", got, want)
		}
	})
	t.Run("never polled: epoch", func(t *testing.T) {
		in := emptyInput()
		in.Sources = nil
		if got, want := feedUpdated(in), time.Unix(0, 0); !got.Equal(want) {
			t.Errorf("feedUpdated = %v, want %v", got, want)
		}
	})
}

// checkFeedTool returns the path of ../shared/tools/check-feed, skipping
// the test when it or its tools are not available.
func checkFeedTool(t *testing.T) string {
	t.Helper()
	corpus := os.Getenv("AGGREGATOR_CORPUS")
	if corpus == "" {
		t.Skip("AGGREGATOR_CORPUS is not set: skipping the check-feed validation")
	}
	tool := filepath.Join(corpus, "..", "tools", "check-feed")
	if _, err := os.Stat(tool); err != nil {
		t.Skipf("check-feed not found: %v", err)
	}
	if _, err := exec.LookPath("jing"); err != nil {
		t.Skip("jing is not installed (apt-get install -y jing python3-feedparser python3-jsonschema)")
	}
	return tool
}

// javaWrapperWarning is what Debian's java-wrappers print on stderr when
// an optional jar of jing's is not installed; check-feed reads it as a jing
// complaint.
var javaWrapperWarning = regexp.MustCompile(`\[warning\] \S+: Unable to locate \S+ in \S+ ?`)

// TestGoldenValid runs the independent validators of check-feed (jing with
// RFC 4287's schema, the Universal Feed Parser, the JSON Feed 1.1 schema)
// on every golden file.
func TestGoldenValid(t *testing.T) {
	tool := checkFeedTool(t)
	for _, in := range goldenInputs() {
		for _, f := range Formats {
			path := goldenPath(in.Channel.ID, f)
			t.Run(filepath.Base(path), func(t *testing.T) {
				out, err := exec.Command(tool, path).CombinedOutput()
				var exit *exec.ExitError
				if errors.As(err, &exit) && exit.ExitCode() == 2 {
					t.Skipf("check-feed cannot run: %s", out)
				}
				if err != nil && f == Atom && onlyWrapperWarnings(out) {
					// jing ran but its launcher complained about missing
					// optional jars: ask jing alone, whose exit status and
					// stdout carry the schema verdict.
					t.Logf("check-feed: %s", bytes.TrimSpace(out))
					rnc := filepath.Join(filepath.Dir(tool), "..", "spec", "atom.rnc")
					jout, jerr := exec.Command("jing", "-c", rnc, path).Output()
					if jerr != nil || len(jout) > 0 {
						t.Errorf("jing %s: %v\n%s", path, jerr, jout)
					}
					return
				}
				if err != nil || !strings.HasPrefix(string(out), "OK") {
					t.Errorf("check-feed %s: %v\n%s", path, err, out)
				}
			})
		}
	}
}

// onlyWrapperWarnings reports whether check-feed failed an Atom document
// for nothing but java-wrappers' warnings.
func onlyWrapperWarnings(out []byte) bool {
	if !javaWrapperWarning.Match(out) {
		return false
	}
	rest := strings.TrimSpace(javaWrapperWarning.ReplaceAllString(string(out), ""))
	return strings.HasPrefix(rest, "FAIL ") && strings.HasSuffix(rest, "entries): jing:") &&
		strings.Count(rest, "\n") == 0
}

// The ids the items of mixedInput are published under in Atom and JSON
// Feed, and their guids in RSS.
var (
	mixedIDs = []string{
		"https://alpha.example/posts/1",
		"urn:uuid:0429ddfd-e927-59dd-91db-c71afbc964d4",
		"urn:uuid:3bb2dec2-f480-5656-a5d2-8c7c76826428",
		"tag:alpha.example,2024:post-9",
	}
	mixedGUIDs = []string{
		"https://alpha.example/posts/1",
		"urn:uuid:0429ddfd-e927-59dd-91db-c71afbc964d4",
		"urn:uuid:3bb2dec2-f480-5656-a5d2-8c7c76826428",
		"tag:alpha.example,2024:post-9",
	}
)

// benchInput is a channel of n items shaped like the fixture's.
func benchInput(n int) Input {
	in := mixedInput()
	base := in.Items
	in.Items = make([]feed.Item, n)
	for i := range in.Items {
		it := base[i%len(base)]
		it.Key = fmt.Sprintf("%s#%d", it.Key, i)
		if it.ID != "" {
			it.ID = fmt.Sprintf("%s#%d", it.ID, i)
		}
		it.Content = strings.Repeat(it.Content+"<p>Lorem ipsum dolor sit amet, 서울 부산 대구.</p>", 8)
		in.Items[i] = it
	}
	return in
}

func BenchmarkRender(b *testing.B) {
	in := benchInput(50)
	for _, f := range Formats {
		b.Run(string(f), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Render(in, f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzRender feeds outside strings (they come from upstream feeds) into
// every field that is published verbatim: whatever they hold, the XML
// documents must stay well-formed and the JSON valid.
func FuzzRender(f *testing.F) {
	f.Add("title", "<p>summary</p>", "<p>content</p>", "12345", "ko", "kim@x.example", "term")
	f.Add("]]>", "\x00\x0b", "]]]]><![CDATA[>", "tag:x,2024:1", "en_US", "@", "")
	f.Add("\xff\xfe", "&amp;&#0;", "<![CDATA[x]]>", "http://a b", "ko-KR-", "a@b", "날씨")
	f.Fuzz(func(t *testing.T, title, summary, content, id, lang, mail, term string) {
		in := mixedInput()
		it := &in.Items[0]
		it.Title, it.Summary, it.Content, it.ID, it.Language = title, summary, content, id, lang
		it.Authors = []feed.Person{{Name: title, Email: mail}}
		it.Categories = []feed.Category{{Term: term, Scheme: id, Label: title}}
		for _, format := range Formats {
			b := mustRender(t, in, format)
			if format == JSON {
				if !json.Valid(b) {
					t.Fatalf("invalid JSON:\n%s", b)
				}
				continue
			}
			dec := xml.NewDecoder(bytes.NewReader(b))
			for {
				_, err := dec.Token()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("%s is not well-formed: %v\n%s", format, err, b)
				}
			}
		}
	})
}
