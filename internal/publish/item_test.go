package publish

import (
	"strings"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

func testItem(sourceID, key string) feed.Item {
	t := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	return feed.Item{SourceID: sourceID, Key: key, Published: t, Updated: t, FirstSeen: t, Dated: true}
}

func TestEntryID(t *testing.T) {
	withID := func(id string) feed.Item {
		it := testItem("src", feed.Identity(id, "https://x.example/a", "", ""))
		it.ID = id
		return it
	}
	for _, tc := range []struct {
		name string
		id   string
		keep bool
	}{
		{"http URL", "https://x.example/posts/1", true},
		{"tag URI", "tag:x.example,2024:1", true},
		{"urn", "urn:uuid:7d5bb8a6-5bd5-4a34-a0d5-5a5b1f0a0d6d", true},
		{"Korean IRI, as a URI", "https://x.example/%EA%B8%80/1", true},
		{"non-canonical: upper-case host", "https://X.example/1", false},
		{"non-canonical: empty port", "http://daily.hankooki.comhttp://daily.hankooki.com/1", false},
		{"non-canonical: encoded letter", "https://x.example/%41", false},
		{"unregistered scheme", "yt:video:5shykyfmb28", false},
		{"number", "12345", false},
		{"relative path", "/posts/1", false},
		{"space", "https://x.example/a b", false},
		{"scheme only", "http:", false},
		{"bad scheme", "1http://x.example/", false},
		{"empty", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			it := withID(tc.id)
			got := entryID(it)
			if tc.keep {
				if got != tc.id {
					t.Errorf("entryID = %q, want the upstream id %q", got, tc.id)
				}
				return
			}
			if !strings.HasPrefix(got, "urn:uuid:") || len(got) != len("urn:uuid:")+36 {
				t.Errorf("entryID = %q, want a urn:uuid", got)
			}
			if again := entryID(withID(tc.id)); again != got {
				t.Errorf("entryID not deterministic: %q then %q", got, again)
			}
		})
	}
}

// TestEntryIDFromIRI checks that an IRI id is published as the URI it maps
// to (RFC 3987 §3.1): atom:id must be ASCII for the W3C validator.
func TestEntryIDFromIRI(t *testing.T) {
	it := testItem("src", "id:x")
	it.ID = "https://x.example/글/1"
	if got, want := entryID(it), "https://x.example/%EA%B8%80/1"; got != want {
		t.Errorf("entryID = %q, want %q", got, want)
	}
}

func TestGeneratedIDSeparatesSources(t *testing.T) {
	a := generatedID(testItem("a", "id:1"))
	b := generatedID(testItem("b", "id:1"))
	c := generatedID(testItem("a", "id:2"))
	if a == b || a == c {
		t.Errorf("ids collide: %q %q %q", a, b, c)
	}
	// The id is part of what readers have stored: it must never change
	// (mixedIDs pins the ids of the golden fixture too).
	if got, want := generatedID(testItem("beta", "id:12345")), mixedIDs[1]; got != want {
		t.Errorf("generatedID(beta, id:12345) = %q, want %q", got, want)
	}
}

func TestIsHTTPURL(t *testing.T) {
	for s, want := range map[string]bool{
		"https://x.example/1": true, "HTTP://X.EXAMPLE/": true, "http://x.example": true,
		"http://": false, "ftp://x.example/": false, "tag:x,2024:1": false, "x.example/1": false,
		"http:/x": false,
	} {
		if got := isHTTPURL(s); got != want {
			t.Errorf("isHTTPURL(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestPlainText(t *testing.T) {
	for in, want := range map[string]string{
		"":                                       "",
		"plain  text\n here":                     "plain text here",
		"<p>One</p><p>Two</p>":                   "One Two",
		"<b>Ko</b>rea &amp; <i>Japan</i>":        "Korea & Japan",
		"line<br>break":                          "line break",
		"<p>서울은&nbsp;맑음</p>":                     "서울은 맑음",
		`<ul><li>a</li><li>b</li></ul>tail &lt;`: "a b tail <",
	} {
		if got := plainText(in); got != want {
			t.Errorf("plainText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestXMLChars(t *testing.T) {
	for in, want := range map[string]string{
		"ok 한국어\t\n":  "ok 한국어\t\n",
		"a\x00b\x0bc": "abc",
		"bad \xff":    "bad \uFFFD",
		"\U0001F600":  "\U0001F600",
	} {
		if got := xmlChars(in); got != want {
			t.Errorf("xmlChars(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDisplayName(t *testing.T) {
	for p, want := range map[feed.Person]string{
		{Name: "Kim", Email: "k@x.example"}: "Kim",
		{Email: "k@x.example", URI: "u"}:    "k@x.example",
		{URI: "https://x.example/~k"}:       "https://x.example/~k",
	} {
		if got := displayName(p); got != want {
			t.Errorf("displayName(%+v) = %q, want %q", p, got, want)
		}
	}
}

func TestPeopleSkipsEmpty(t *testing.T) {
	got := people([]feed.Person{{}, {Name: "a"}, {}})
	if len(got) != 1 || got[0].Name != "a" {
		t.Errorf("people = %+v, want only a", got)
	}
}

func TestLangTag(t *testing.T) {
	for in, want := range map[string]string{
		"ko": "ko", "en-US": "en-US", " ko_KR ": "ko-KR", "zh-Hant-TW": "zh-Hant-TW", "es-419": "es-419",
		"": "", "korean language": "", "123": "", "en-": "", "toolongtag": "", "ko-KR-": "",
	} {
		if got := langTag(in); got != want {
			t.Errorf("langTag(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEmail(t *testing.T) {
	for in, want := range map[string]string{
		"a@b": "a@b", "kim@x.example": "kim@x.example", "": "", "@x": "", "x@": "", "no address": "",
	} {
		if got := email(in); got != want {
			t.Errorf("email(%q) = %q, want %q", in, got, want)
		}
	}
}

// An item whose upstream id another stored item carried first is published
// under its generated id, and two items of one document that still share
// an id are both published, under distinct ids.
func TestEntryIDShared(t *testing.T) {
	home := "https://institute.example/"
	a, b := testItem("seminars", "link:institute.example/events/a"), testItem("seminars", "link:institute.example/events/b")
	a.ID, b.ID = home, home
	if got := entryID(a); got != home {
		t.Errorf("first item: %q, want the upstream id", got)
	}
	b.IDShared = true
	if got := entryID(b); got != generatedID(b) {
		t.Errorf("shared: %q, want the generated id %q", got, generatedID(b))
	}

	b.IDShared = false // as if stored before the store marked shared ids
	in := Input{Channel: feed.Channel{ID: "c", Title: "C"}, Items: []feed.Item{a, b}, BaseURL: "https://agg.example"}
	got := prepare(in, nil).Items
	if len(got) != 2 || entryID(got[0]) != home || entryID(got[1]) != generatedID(b) {
		var ids []string
		for _, it := range got {
			ids = append(ids, entryID(it))
		}
		t.Errorf("prepared ids %q, want %q and %q", ids, home, generatedID(b))
	}
}
