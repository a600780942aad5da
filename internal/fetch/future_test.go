package fetch

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

// datedParser is a fake Parser: each body line "key RFC3339" is an item
// published then.
type datedParser struct{}

func (datedParser) Parse(body []byte, _, _, sourceID string) (feed.Parsed, error) {
	var out feed.Parsed
	for _, line := range strings.Split(strings.TrimSpace(string(body)), "\n") {
		key, date, _ := strings.Cut(line, " ")
		t, err := time.Parse(time.RFC3339, date)
		if err != nil {
			return out, err
		}
		out.Items = append(out.Items, feed.Item{SourceID: sourceID, Key: "id:" + key, Title: key, Published: t, Updated: t, Dated: true})
	}
	return out, nil
}

func TestFutureDates(t *testing.T) {
	// The clock of newTestPoller starts at 2026-03-01T09:00:00Z.
	body := "past 2026-02-01T00:00:00Z\nskewed 2026-03-01T09:04:00Z\nnextweek 2026-03-08T00:00:00Z\nfar 9999-12-31T23:59:59Z\n"
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"same"`)
		if r.Header.Get("If-None-Match") == `"same"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		io.WriteString(w, body)
	})
	src := feed.Source{ID: "s", URL: o.URL, Interval: time.Hour}

	t.Run("clamp dates them now", func(t *testing.T) {
		store := newMemStore()
		p, clk := newTestPoller(t, datedParser{}, store, 0)
		if r := p.Poll(t.Context(), src); r.Err != nil || r.Counts.New != 4 {
			t.Fatalf("Err=%v Counts=%+v, want 4 new", r.Err, r.Counts)
		}
		want := map[string]time.Time{
			"id:past":     time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC),
			"id:skewed":   time.Date(2026, 3, 1, 9, 4, 0, 0, time.UTC), // within FutureSlack: kept
			"id:nextweek": clk.Now(),
			"id:far":      clk.Now(),
		}
		for key, at := range want {
			it := store.items["s"][key]
			if !it.Published.Equal(at) || it.Updated.After(clk.Now().Add(FutureSlack)) {
				t.Errorf("%s: Published=%v Updated=%v, want %v and no future update", key, it.Published, it.Updated, at)
			}
		}
	})
	t.Run("hide waits for the date", func(t *testing.T) {
		store := newMemStore()
		p, clk := newTestPoller(t, datedParser{}, store, 0)
		p.opts.HideFuture = true
		if r := p.Poll(t.Context(), src); r.Err != nil || r.Counts.New != 2 {
			t.Fatalf("Err=%v Counts=%+v, want 2 new (past, skewed)", r.Err, r.Counts)
		}
		if st := store.state("s"); st.ETag != "" || st.BodyHash != "" {
			t.Errorf("state keeps ETag=%q BodyHash=%q: the next poll would skip the hidden items", st.ETag, st.BodyHash)
		}
		clk.Advance(8 * 24 * time.Hour)
		r := p.Poll(t.Context(), src)
		if r.Err != nil || r.Counts.New != 1 || r.NotModified || r.Skipped {
			t.Fatalf("a week later: Err=%v Counts=%+v NotModified=%v Skipped=%v, want 1 new", r.Err, r.Counts, r.NotModified, r.Skipped)
		}
		if it, ok := store.items["s"]["id:nextweek"]; !ok || !it.Published.Equal(time.Date(2026, 3, 8, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("nextweek stored=%v Published=%v, want its own date", ok, it.Published)
		}
		if _, ok := store.items["s"]["id:far"]; ok {
			t.Error("the item dated 9999 is shown")
		}
	})
}
