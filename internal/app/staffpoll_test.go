package app

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/config"
	"github.com/kpolicy/aggregator/internal/store/postgres"
	"github.com/kpolicy/aggregator/internal/store/postgres/pgtest"
)

// TestStaffPollWaitsForLease: on a PostgreSQL store, the poller the fetch
// command builds (NewPoller) claims its sources' leases: while another
// instance holds a source, `aggregator fetch` sends it no request, and
// polls it once that instance releases it.
func TestStaffPollWaitsForLease(t *testing.T) {
	u := pgtest.Schema(t)
	var requests atomic.Int32
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Content-Type", "application/rss+xml")
		fmt.Fprint(w, `<rss version="2.0"><channel><title>t</title><item><title>one</title><link>http://example.test/1</link></item></channel></rss>`)
	}))
	defer origin.Close()
	cfg, err := config.Parse(strings.NewReader(fmt.Sprintf(`storage: { path: %q, search: %q }
fetch: { lease: 5s, allow_private_networks: true }
sources:
  - { id: s1, url: %q }
`, u, filepath.Join(t.TempDir(), "search"), origin.URL+"/feed")), "feeds.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db, err := postgres.Open(ctx, u, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	const other = "other-instance/1/abc"
	c, err := db.ClaimPoll(ctx, other, "s1", "127.0.0.1", time.Time{}, 5*time.Second, 0)
	if err != nil || !c.Held {
		t.Fatalf("the other instance's claim: %+v, %v", c, err)
	}
	sources, err := SelectSources(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan []Polled, 1)
	go func() { done <- PollSources(ctx, NewPoller(cfg, NewClient(cfg, nil), db, nil, nil), db, sources) }()

	// The staff poll is waiting for the lease: give it time to claim (and
	// be refused) a few times; it must not have sent the request.
	time.Sleep(1500 * time.Millisecond)
	if n := requests.Load(); n != 0 {
		t.Fatalf("the staff poll sent %d requests while another instance held the source", n)
	}
	if err := db.ReleasePoll(ctx, other, "s1", "127.0.0.1", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var polled []Polled
	select {
	case polled = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the staff poll did not end within 30s of the release")
	}
	if len(polled) != 1 || polled[0].Error != "" || polled[0].Status != 200 {
		t.Fatalf("polled %+v, want s1 polled with 200", polled)
	}
	if n := requests.Load(); n != 1 {
		t.Errorf("the origin got %d requests, want 1", n)
	}
	if n, err := db.PollLeases(ctx, other); err != nil || n != 0 {
		t.Errorf("the other instance holds %d leases (%v), want 0 after its release", n, err)
	}
}
