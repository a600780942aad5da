package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/parse"
)

// savePollFails is a memStore whose SavePoll fails as the bbolt store's
// does: its error names the operation and the source.
type savePollFails struct{ *memStore }

func (s savePollFails) SavePoll(_ context.Context, id string, _ []feed.Item, _ feed.SourceState) (feed.PollCounts, error) {
	return feed.PollCounts{}, fmt.Errorf("save poll %s: %w", id, errors.New("database is full"))
}

// TestPollErrorText pins the whole text of a failed poll's error, as the
// log and /status show it: each step (the poll, the save, the fetch, the
// parse) says itself once, wrapped by the callee or the caller, not both.
func TestPollErrorText(t *testing.T) {
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/bad":
			w.Header().Set("Content-Type", "application/rss+xml")
			io.WriteString(w, `<rss version="2.0"><channel><title>x</title><item><title>a`)
			return
		case "/broken":
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/rss+xml")
		io.WriteString(w, `<rss version="2.0"><channel><title>x</title><item><title>a</title><link>https://x.org/a</link></item></channel></rss>`)
	})
	closed := newOrigin(t, func(http.ResponseWriter, *http.Request) {})
	closed.Close()

	for _, tc := range []struct {
		name  string
		store Store
		url   string
		want  string
	}{
		{"save poll", savePollFails{newMemStore()}, o.URL + "/feed",
			"poll chosun: save poll chosun: database is full"},
		{"status", newMemStore(), o.URL + "/broken",
			"poll chosun: fetch " + o.URL + "/broken: unexpected HTTP status 500 Internal Server Error"},
		{"refused", newMemStore(), closed.URL + "/feed",
			"poll chosun: fetch " + closed.URL + "/feed: dial tcp " + closed.Listener.Addr().String() + ": connect: connection refused"},
		{"parse", newMemStore(), o.URL + "/bad",
			"poll chosun: " + o.URL + "/bad: parse rss: XML syntax error on line 1: unexpected EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := newTestPoller(t, parse.New(), tc.store, 0)
			res := p.Poll(t.Context(), feed.Source{ID: "chosun", URL: tc.url, Interval: time.Hour})
			if res.Err == nil {
				t.Fatal("the poll succeeded")
			}
			t.Logf("%v", res.Err)
			if got := res.Err.Error(); got != tc.want {
				t.Errorf("err=%q\nwant %q", got, tc.want)
			}
		})
	}
}
