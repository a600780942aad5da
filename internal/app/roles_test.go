package app

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/app/apptest"
	"github.com/kpolicy/aggregator/internal/config"
	"github.com/kpolicy/aggregator/internal/store/postgres"
	"github.com/kpolicy/aggregator/internal/store/postgres/pgtest"
)

// TestRolesOneHolder runs two Apps on one PostgreSQL store: one of them
// holds the hub's role (delivers), never both, and when it stops the
// other takes the role within a third of the lease (it was released).
func TestRolesOneHolder(t *testing.T) {
	u := pgtest.Schema(t)
	start := func(name string) (*App, func()) {
		cfg, err := config.Parse(strings.NewReader(fmt.Sprintf(`server: { base_url: "http://%s.test" }
storage: { path: %q, search: %q }
fetch: { lease: 6s }
`, name, u, filepath.Join(t.TempDir(), "search"))), "feeds.yaml")
		if err != nil {
			t.Fatal(err)
		}
		db, err := postgres.Open(context.Background(), u, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		a, err := New(cfg, Deps{Store: db, Logger: slog.New(slog.DiscardHandler), Transport: apptest.Transport()})
		if err != nil {
			db.Close()
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- a.Run(ctx) }()
		stopped := false
		return a, func() {
			if stopped {
				return
			}
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
			db.Close()
		}
	}
	a, stopA := start("a")
	t.Cleanup(stopA)
	b, stopB := start("b")
	t.Cleanup(stopB)

	both := func() bool { return a.roles.hub.Load() && b.roles.hub.Load() }
	apptest.Eventually(t, "one instance holding the hub's role", func() bool {
		if both() {
			t.Fatal("both instances hold the hub's role")
		}
		return a.roles.hub.Load() || b.roles.hub.Load()
	})
	for range 20 { // it stays one
		if both() {
			t.Fatal("both instances hold the hub's role")
		}
		time.Sleep(50 * time.Millisecond)
	}
	holder, other, stop := a, b, stopA
	if b.roles.hub.Load() {
		holder, other, stop = b, a, stopB
	}
	stop()
	if holder.roles.hub.Load() {
		t.Error("a stopped instance still says it holds the hub's role")
	}
	released := time.Now()
	apptest.Eventually(t, "the other instance taking the hub's role", other.roles.hub.Load)
	if took := time.Since(released); took > 6*time.Second {
		t.Errorf("the role was taken %s after its holder stopped, want within a renewal period (2s) of its release", took)
	}
}
