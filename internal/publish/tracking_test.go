package publish

import (
	"strings"
	"testing"

	"github.com/kpolicy/aggregator/internal/feed"
)

// An item stored before the parser removed tracking is published without
// it, in every format: prepare applies the parser's rule again.
func TestStoredTrackingStripped(t *testing.T) {
	it := testItem("cre", "id:1")
	it.Title, it.Link = "CRE 230: Die Stadt", "https://cre.example/cre230"
	it.Summary = `<p>Episode <a href="https://cre.example/cre230?utm_source=feedburner&amp;utm_medium=feed&amp;id=230">notes</a></p>`
	it.Content = `<p>Notes: <a href="https://cre.example/cre230?utm_campaign=x&amp;id=230">cre230</a></p><p><img src="https://cre.example/cover.jpg?fbclid=IwAR0&amp;w=640" srcset="https://cre.example/cover@2x.jpg?mc_cid=77 2x" alt="cover"></p>` +
		`<img src="https://feeds.feedburner.com/~r/cre-podcast/~4/8l3cmSSJErA" height="1" width="1" alt=""/>` +
		`<img src="https://t.example/open.gif" width="1" height="1">`
	in := Input{Channel: feed.Channel{ID: "podcasts", Title: "Podcasts"}, Items: []feed.Item{it}, BaseURL: "https://agg.example",
		Sources: map[string]SourceInfo{"cre": {ID: "cre", Title: "CRE"}}}
	for _, f := range Formats {
		b, err := Render(in, f)
		if err != nil {
			t.Fatal(err)
		}
		doc := string(b)
		for _, bad := range []string{"feedburner.com/~r/", "open.gif", "utm_", "fbclid", "mc_cid"} {
			if strings.Contains(doc, bad) {
				t.Errorf("%s document keeps %q", f, bad)
			}
		}
		for _, good := range []string{"cre230?id=230", "cover.jpg?w=640"} {
			if !strings.Contains(doc, good) {
				t.Errorf("%s document lost %q", f, good)
			}
		}
	}
}
