package parse

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kpolicy/aggregator/internal/feed"
)

// TestFragmentsTellPostsApart parses scripting.com's feed, whose 50 items
// are 48 posts with GUIDs that differ only by fragment (the day's page and
// the post's anchor): each post is an item of its own, linked to its
// anchor, under a key that does not depend on which other posts the
// document lists.
func TestFragmentsTellPostsApart(t *testing.T) {
	body, err := os.ReadFile(filepath.Join(corpusDir(t, "real"), "rsparser", "scriptingNews.rss"))
	if err != nil {
		t.Fatal(err)
	}
	src := feed.Source{ID: "scripting"}
	got, err := New().ParseSource(body, "application/rss+xml", "http://scripting.com/rss.xml", src)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(got.Items); n != 48 {
		t.Fatalf("%d items, want the 48 distinct posts", n)
	}
	keys := map[string]feed.Item{}
	for _, it := range got.Items {
		if _, dup := keys[it.Key]; dup {
			t.Errorf("key %q twice", it.Key)
		}
		keys[it.Key] = it
		if want := "id:" + strings.TrimPrefix(it.ID, "http://"); it.Key != want {
			t.Errorf("key %q, want %q", it.Key, want)
		}
		if it.Link != it.ID || !strings.Contains(it.Link, "#a") {
			t.Errorf("item %s: link %q, want the post's anchor", it.Key, it.Link)
		}
	}
	if got.Warning != "" {
		t.Errorf("warning %q", got.Warning)
	}

	// A later poll in which a day's other posts have left the feed keys the
	// remaining one the same: here the second post of 26 June, alone.
	doc := string(body)
	parts := strings.Split(doc, "<item>")
	second := parts[2][:strings.Index(parts[2], "</item>")+len("</item>")]
	alone := parts[0] + "<item>" + second + "</channel></rss>"
	again, err := New().ParseSource([]byte(alone), "application/rss+xml", "http://scripting.com/rss.xml", src)
	if err != nil {
		t.Fatal(err)
	}
	want := got.Items[1]
	if len(again.Items) != 1 || again.Items[0].Key != want.Key || again.Items[0].Link != want.Link {
		t.Errorf("alone: %+v\nwant key %q link %q", again.Items, want.Key, want.Link)
	}
	if !strings.Contains(want.Key, "26.html#a030658") {
		t.Errorf("the second post is %q", want.Key)
	}
}
