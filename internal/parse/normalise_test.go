package parse

import (
	"net/url"
	"reflect"
	"testing"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/mmcdole/gofeed"
)

func TestSplitPerson(t *testing.T) {
	tests := []struct {
		in   string
		want feed.Person
	}{
		{"editor@example.com (Kim Editor)", feed.Person{Name: "Kim Editor", Email: "editor@example.com"}},
		{"Kim Editor (editor@example.com)", feed.Person{Name: "Kim Editor", Email: "editor@example.com"}},
		{"Kim Editor <editor@example.com>", feed.Person{Name: "Kim Editor", Email: "editor@example.com"}},
		{"editor@example.com", feed.Person{Email: "editor@example.com"}},
		{"홍길동 기자", feed.Person{Name: "홍길동 기자"}},
		{"Foo (Bar)", feed.Person{Name: "Foo (Bar)"}},
		{"  ", feed.Person{}},
	}
	for _, tt := range tests {
		if got := splitPerson(tt.in); got != tt.want {
			t.Errorf("splitPerson(%q)=%+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestAbsLink(t *testing.T) {
	base, _ := url.Parse("https://example.com/a/feed.xml")
	tests := []struct{ in, want string }{
		{"b.html", "https://example.com/a/b.html"},
		{" /c ", "https://example.com/c"},
		{"//cdn.example.net/x", "https://cdn.example.net/x"},
		{"http://other.example/", "http://other.example/"},
		{"javascript:alert(1)", ""},
		{"data:text/html,hi", ""},
		{"mailto:a@b.c", ""},
		{"", ""},
		{"http://[::1", ""},
	}
	for _, tt := range tests {
		if got := absLink(base, tt.in); got != tt.want {
			t.Errorf("absLink(%q)=%q, want %q", tt.in, got, tt.want)
		}
	}
	if got := absLink(nil, "relative.html"); got != "" {
		t.Errorf("absLink without base kept a relative link: %q", got)
	}
}

func TestEnclosures(t *testing.T) {
	base, _ := url.Parse("https://example.com/")
	got := enclosures(base, []*gofeed.Enclosure{
		{URL: "/a.mp3", Type: "audio/mpeg", Length: " 100 "},
		{URL: "/a.mp3", Type: "audio/mpeg", Length: "100"}, // duplicate
		{URL: "b.mp3", Length: "-5"},
		{URL: "c.mp3", Length: "12MB"},
		{URL: "javascript:x"},
		nil,
	})
	want := []feed.Enclosure{
		{URL: "https://example.com/a.mp3", Type: "audio/mpeg", Length: 100},
		{URL: "https://example.com/b.mp3"},
		{URL: "https://example.com/c.mp3"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("enclosures=%+v, want %+v", got, want)
	}
}

func TestItemIdentity(t *testing.T) {
	base, _ := url.Parse("https://example.com/")
	tests := []struct {
		name     string
		item     gofeed.Item
		wantKey  string
		wantKeep bool
	}{
		{"guid first", gofeed.Item{GUID: " g1 ", Link: "/x", Title: "t"}, "id:g1", true},
		{"then the resolved link", gofeed.Item{Link: "/x", Title: "t"}, "link:example.com/x", true},
		{"then a hash of plain title and body", gofeed.Item{Title: "<b>t</b>", Content: "c"}, feed.Identity("", "", "t", "c"), true},
		{"enclosure alone is kept", gofeed.Item{Enclosures: []*gofeed.Enclosure{{URL: "/a.mp3"}}}, feed.Identity("", "", "", ""), true},
		{"nothing to show is dropped", gofeed.Item{GUID: "g2", Description: "  "}, "id:g2", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key, keep := itemIdentity(&tt.item, base, false)
			if key != tt.wantKey || keep != tt.wantKeep {
				t.Errorf("itemIdentity=%q,%v want %q,%v", key, keep, tt.wantKey, tt.wantKeep)
			}
		})
	}
}

func TestItemWithoutTitleLinkOrContentIsDropped(t *testing.T) {
	doc := `<rss version="2.0"><channel><title>t</title>
<item><guid isPermaLink="false">only-an-id</guid></item>
<item><title>kept</title></item>
<item><guid isPermaLink="false">podcast</guid><enclosure url="https://e.com/a.mp3" length="1" type="audio/mpeg"/></item>
</channel></rss>`
	got := mustParse(t, []byte(doc), "", "https://e.com/feed")
	if len(got.Items) != 2 || got.Items[0].Title != "kept" || got.Items[1].ID != "podcast" {
		t.Errorf("items=%+v", got.Items)
	}
}

func TestJSONTitleCharacterReferences(t *testing.T) {
	for in, want := range map[string]string{
		"The Hitchhiker&#039;s guide": "The Hitchhiker's guide",
		"Fish &amp; chips":            "Fish & chips",
		"A <b>literal</b> tag stays":  "A <b>literal</b> tag stays",
		"  spaced \n  out  ":          "spaced out",
		"AT&T without a reference":    "AT&T without a reference",
	} {
		if got := jsonTitle(in); got != want {
			t.Errorf("jsonTitle(%q)=%q, want %q", in, got, want)
		}
	}
}
