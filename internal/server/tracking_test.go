package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

// An item stored before the parser removed tracking is shown without it on
// the item page and the channel page: the pages apply the parser's rule
// again.
func TestPagesStripStoredTracking(t *testing.T) {
	s := newSite(t)
	at := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC) // newer than every other item: first on the channel page
	it := feed.Item{Key: "old", Title: "Stored before the rule", Link: "https://keia.example/old", Published: at, Dated: true,
		Summary: `<p><a href="https://keia.example/old?utm_source=rss&amp;p=1">More</a></p><img src="https://feeds.feedburner.com/~r/keia/~4/x" width="1" height="1">`,
		Content: `<p><img src="https://keia.example/photo.jpg?gclid=9" alt="photo"></p><img src="https://t.example/p.gif" height="1" width="1">`}
	if _, err := s.db.SavePoll(context.Background(), "keia", []feed.Item{it}, feed.SourceState{}); err != nil {
		t.Fatal(err)
	}
	s.members.Kick()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.members.WaitCurrent(ctx); err != nil {
		t.Fatal(err)
	}
	stored, err := s.db.Item(context.Background(), "keia", "old")
	if err != nil || !strings.Contains(stored.Content, "p.gif") {
		t.Fatalf("the store did not keep the item as given: %v %q", err, stored.Content)
	}
	_, item := do(t, s, "GET", "/items/"+stored.Ref())
	mustContain(t, "item page", item, `src="https://keia.example/photo.jpg"`)

	// The channel page shows summaries from the channel's members.
	members := fakeMembers{"keia": {stored}}
	f := newFeeds(t, members, []feed.Channel{{ID: "keia", Title: "KEI", Sources: []string{"keia"}, Limit: 10}}, []feed.Source{{ID: "keia", Title: "KEI"}})
	page := New(f, fakeHealth{}, Options{Extras: Extras{Items: s.db, Members: members}})
	_, channel := do(t, page, "GET", "/channels/keia")
	mustContain(t, "channel page", channel, "Stored before the rule", `href="https://keia.example/old?p=1"`)

	for name, body := range map[string]string{"item page": item, "channel page": channel} {
		for _, bad := range []string{"p.gif", "feedburner.com/~r/", "utm_source", "gclid"} {
			if strings.Contains(body, bad) {
				t.Errorf("%s keeps %q", name, bad)
			}
		}
	}
}
