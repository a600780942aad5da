package publish

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/mmcdole/gofeed/rss"
)

func TestRSSGolden(t *testing.T) { checkGolden(t, RSS) }

// TestRSSRoundTrip parses the rendered document with gofeed's RSS parser
// and checks that what matters survives.
func TestRSSRoundTrip(t *testing.T) {
	in := mixedInput()
	f, err := (&rss.Parser{}).Parse(bytes.NewReader(mustRender(t, in, RSS)))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f.Version, "2.0"; got != want {
		t.Errorf("version = %q, want %q", got, want)
	}
	if f.Title != in.Channel.Title || f.Link != "http://localhost:8080/channels/mixed" || f.Description != in.Channel.Description {
		t.Errorf("channel title, link, description = %q, %q, %q", f.Title, f.Link, f.Description)
	}
	self := f.Extensions["atom"]["link"]
	if len(self) != 1 || self[0].Attrs["rel"] != "self" || self[0].Attrs["href"] != "http://localhost:8080/feeds/mixed.rss" {
		t.Errorf("atom:link = %+v, want rel=self to /feeds/mixed.rss", self)
	}
	if got, want := len(f.Items), len(in.Items); got != want {
		t.Fatalf("items = %d, want %d", got, want)
	}
	wantPermaLink := []string{"true", "false", "false", "false"}
	for i, item := range f.Items {
		it := in.Items[i]
		src := in.Sources[it.SourceID]
		if item.GUID == nil || item.GUID.Value != mixedGUIDs[i] || item.GUID.IsPermalink != wantPermaLink[i] {
			t.Errorf("item %d: guid = %+v, want %q isPermaLink=%s", i, item.GUID, mixedGUIDs[i], wantPermaLink[i])
		}
		if got, want := item.Title, it.Title; got != want {
			t.Errorf("item %d: title = %q, want %q", i, got, want)
		}
		if got, want := item.Link, it.Link; got != want {
			t.Errorf("item %d: link = %q, want %q", i, got, want)
		}
		var gotCats, wantCats []string
		for _, c := range item.Categories {
			gotCats = append(gotCats, c.Domain+"|"+c.Value)
		}
		for _, c := range it.Categories {
			wantCats = append(wantCats, c.Scheme+"|"+c.Term)
		}
		if !slices.Equal(gotCats, wantCats) {
			t.Errorf("item %d: categories = %q, want %q", i, gotCats, wantCats)
		}
		if item.Source == nil || item.Source.URL != src.FeedURL || item.Source.Title != src.Title {
			t.Errorf("item %d: source = %+v, want %q %q", i, item.Source, src.FeedURL, src.Title)
		}
		if got, want := item.PubDate, rssTime(it.Published); got != want {
			t.Errorf("item %d: pubDate = %q, want %q", i, got, want)
		}
		if item.Description == "" {
			t.Errorf("item %d: empty description", i)
		}
	}

	first := f.Items[0]
	if got, want := first.Author, "minji@alpha.example (Kim Min-ji)"; got != want {
		t.Errorf("author = %q, want %q", got, want)
	}
	if first.Content != cleanHTML(in.Items[0].Content, in.Items[0].Link) || first.Description != in.Items[0].Summary {
		t.Errorf("content, description = %q, %q; want the item's content and summary", first.Content, first.Description)
	}
	if e := first.Enclosure; e == nil || e.URL != "https://alpha.example/ep1.mp3" || e.Type != "audio/mpeg" || e.Length != "12345" {
		t.Errorf("enclosure = %+v", e)
	}
	if got := first.DublinCoreExt.Language; !slices.Equal(got, []string{"en"}) {
		t.Errorf("dc:language = %q, want [en]", got)
	}

	korean := f.Items[1]
	if korean.Author != "" || korean.DublinCoreExt == nil || !slices.Equal(korean.DublinCoreExt.Creator, []string{"홍길동"}) {
		t.Errorf("author, dc:creator = %q, %+v; want a name-only author as dc:creator", korean.Author, korean.DublinCoreExt)
	}

	episode := f.Items[3]
	if e := episode.Enclosure; e == nil || e.Type != "application/octet-stream" || e.Length != "999" {
		t.Errorf("enclosure without type = %+v, want application/octet-stream", e)
	}
	if got, want := episode.Content, strings.ReplaceAll(cleanHTML(in.Items[3].Content, in.Items[3].Link), "\x0b", ""); got != want {
		t.Errorf("content = %q, want %q (CDATA end and control character handled)", got, want)
	}
	// RSS's <author> wants a name beside the address: an email-only author is a dc:creator.
	if episode.Author != "" || !slices.Equal(episode.DublinCoreExt.Creator, []string{"desk@alpha.example", "Lee"}) {
		t.Errorf("author, dc:creator = %q, %q", episode.Author, episode.DublinCoreExt.Creator)
	}
}

// TestRSSEnclosureUnknown checks that an enclosure without type or length
// is still published, with the placeholders RSS requires.
func TestRSSEnclosureUnknown(t *testing.T) {
	in := mixedInput()
	in.Items = in.Items[:1]
	in.Items[0].Enclosures = in.Items[0].Enclosures[1:]
	f, err := (&rss.Parser{}).Parse(bytes.NewReader(mustRender(t, in, RSS)))
	if err != nil {
		t.Fatal(err)
	}
	if e := f.Items[0].Enclosure; e == nil || e.URL != "https://alpha.example/photo.jpg" || e.Type != "application/octet-stream" || e.Length != "0" {
		t.Errorf("enclosure = %+v, want photo.jpg with application/octet-stream and length 0", e)
	}
}

func TestRSSGUID(t *testing.T) {
	for _, tc := range []struct {
		name      string
		id        string
		permaLink bool
		want      string
		wantPerma string
	}{
		{"permalink URL", "https://x.example/1", true, "https://x.example/1", "true"},
		{"URL not said to be a permalink", "https://x.example/1", false, "https://x.example/1", "false"},
		{"permalink that is no URL", "post-1", true, generatedID(testItem("s", "link:https://x.example/1")), "false"},
		{"permalink with another scheme", "urn:isbn:123", true, "urn:isbn:123", "false"},
		{"no upstream id", "", false, generatedID(testItem("s", "link:https://x.example/1")), "false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			it := testItem("s", "link:https://x.example/1")
			it.ID, it.IDIsPermaLink = tc.id, tc.permaLink
			g := newRSSItem(it, SourceInfo{}, false, nil).Guid
			if g.Id != tc.want || g.IsPermaLink != tc.wantPerma {
				t.Errorf("guid = %q isPermaLink=%q, want %q %q", g.Id, g.IsPermaLink, tc.want, tc.wantPerma)
			}
		})
	}
}
