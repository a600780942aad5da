package publish

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/mmcdole/gofeed/atom"

	"github.com/kpolicy/aggregator/internal/feed"
)

func TestAtomGolden(t *testing.T) { checkGolden(t, Atom) }

// TestAtomRoundTrip parses the rendered document with gofeed's Atom parser
// and checks that what matters survives.
func TestAtomRoundTrip(t *testing.T) {
	in := mixedInput()
	f, err := (&atom.Parser{}).Parse(bytes.NewReader(mustRender(t, in, Atom)))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f.ID, "http://localhost:8080/channels/mixed"; got != want {
		t.Errorf("feed id = %q, want %q", got, want)
	}
	if got, want := f.Title, in.Channel.Title; got != want {
		t.Errorf("feed title = %q, want %q", got, want)
	}
	if got, want := f.Updated[:len("2024-03-02T10:30:00")], "2024-03-02T10:30:00"; got != want {
		t.Errorf("feed updated = %q, want %q", got, want)
	}
	if got, want := atomLinks(f.Links), []string{
		"alternate text/html http://localhost:8080/channels/mixed",
		"self application/atom+xml http://localhost:8080/feeds/mixed.atom",
	}; !slices.Equal(got, want) {
		t.Errorf("feed links = %q, want %q", got, want)
	}
	if len(f.Authors) != 1 || f.Authors[0].Name != in.Site.Title || f.Authors[0].URI != "http://localhost:8080/" {
		t.Errorf("feed authors = %+v, want the site at its home page (an entry has no author)", f.Authors)
	}
	in.Site = feed.Site{}
	f, err = (&atom.Parser{}).Parse(bytes.NewReader(mustRender(t, in, Atom)))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Authors) != 1 || f.Authors[0].Name != in.Channel.Title || f.Authors[0].URI != "" {
		t.Errorf("feed authors without a site = %+v, want the channel title", f.Authors)
	}
	if got, want := len(f.Entries), len(in.Items); got != want {
		t.Fatalf("entries = %d, want %d", got, want)
	}
	for i, e := range f.Entries {
		it := in.Items[i]
		src := in.Sources[it.SourceID]
		if got, want := e.ID, mixedIDs[i]; got != want {
			t.Errorf("entry %d: id = %q, want %q", i, got, want)
		}
		if got, want := e.Title, atomTitle(it); got != want || it.Title != "" && got != it.Title {
			t.Errorf("entry %d: title = %q, want %q", i, got, want)
		}
		var wantLinks []string
		if it.Link != "" {
			wantLinks = append(wantLinks, "alternate  "+it.Link)
		}
		for _, enc := range it.Enclosures {
			wantLinks = append(wantLinks, "enclosure "+enc.Type+" "+enc.URL)
		}
		if got := atomLinks(e.Links); !slices.Equal(got, wantLinks) {
			t.Errorf("entry %d: links = %q, want %q", i, got, wantLinks)
		}
		var gotCats, wantCats []string
		for _, c := range e.Categories {
			gotCats = append(gotCats, c.Scheme+"|"+c.Term+"|"+c.Label)
		}
		for _, c := range it.Categories {
			wantCats = append(wantCats, c.Scheme+"|"+c.Term+"|"+c.Label)
		}
		if !slices.Equal(gotCats, wantCats) {
			t.Errorf("entry %d: categories = %q, want %q", i, gotCats, wantCats)
		}
		if got, want := len(e.Authors), len(it.Authors); got != want {
			t.Errorf("entry %d: %d authors, want %d", i, got, want)
		}
		if (e.Published != "") != it.Dated {
			t.Errorf("entry %d: published = %q with Dated=%v", i, e.Published, it.Dated)
		}
		if got, want := e.UpdatedParsed.Truncate(time.Second).Format(time.RFC3339), atomTime(it.Updated); got != want {
			t.Errorf("entry %d: updated = %q, want %q", i, got, want)
		}
		if e.Source == nil {
			t.Fatalf("entry %d: no source", i)
		}
		if e.Source.ID != src.FeedURL || e.Source.Title != src.Title {
			t.Errorf("entry %d: source id, title = %q, %q; want %q, %q", i, e.Source.ID, e.Source.Title, src.FeedURL, src.Title)
		}
		if got, want := atomLinks(e.Source.Links), []string{
			"alternate text/html " + src.Link, "self  " + src.FeedURL,
		}; !slices.Equal(got, want) {
			t.Errorf("entry %d: source links = %q, want %q", i, got, want)
		}
	}
	a := f.Entries[0].Authors[0]
	if a.Name != "Kim Min-ji" || a.Email != "minji@alpha.example" || a.URI != "https://alpha.example/~minji" {
		t.Errorf("entry 0 author = %+v", a)
	}
	if l := f.Entries[0].Links[1]; l.Length != "12345" {
		t.Errorf("enclosure length = %q, want 12345", l.Length)
	}
	if c := f.Entries[0].Content; c == nil || c.Value != cleanHTML(in.Items[0].Content, in.Items[0].Link) {
		t.Errorf("entry 0 content = %+v, want the item's HTML", c)
	}
}

// TestAtomEntryWithoutLink checks that an entry without an alternate link
// carries content (RFC 4287 §4.1.1.1), its summary when it has no other.
func TestAtomEntryWithoutLink(t *testing.T) {
	in := mixedInput()
	in.Items = in.Items[2:3]
	in.Items[0].Link = ""
	body := mustRender(t, in, Atom)
	f, err := (&atom.Parser{}).Parse(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	// The item is untitled: RFC 4287 requires a title, and a blank one
	// leaves readers nothing to list: the start of its text stands in.
	if !bytes.Contains(body, []byte("<title>A note without a title.</title>")) {
		t.Errorf("no title from the text for an untitled item:\n%s", body)
	}
	e := f.Entries[0]
	if len(e.Links) != 0 {
		t.Errorf("links = %+v, want none", e.Links)
	}
	if e.Content == nil || e.Content.Value != in.Items[0].Summary {
		t.Errorf("content = %+v, want the summary %q", e.Content, in.Items[0].Summary)
	}
}

// atomLinks lists links as "rel type href".
func atomLinks(links []*atom.Link) []string {
	var out []string
	for _, l := range links {
		out = append(out, l.Rel+" "+l.Type+" "+l.Href)
	}
	return out
}
