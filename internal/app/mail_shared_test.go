package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/app/apptest"
	"github.com/kpolicy/aggregator/internal/config"
	"github.com/kpolicy/aggregator/internal/mail/mailtest"
	"github.com/kpolicy/aggregator/internal/store/postgres"
	"github.com/kpolicy/aggregator/internal/store/postgres/pgtest"
)

// runOn runs the App of the config at path on st until the test ends.
func runOn(t *testing.T, path string, st Store, mo MailOptions) *App {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	logs := &apptest.SyncBuffer{}
	started := make(chan struct{})
	a, err := New(cfg, Deps{Store: st, Logger: slog.New(slog.NewTextHandler(logs, nil)), Transport: apptest.Transport(),
		Mail: mo, Started: func() { close(started) }})
	if err != nil {
		t.Fatal(err)
	}
	apptest.ServeAt(t, cfg.Server.BaseURL, a.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	<-started
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return a
}

// TestMailTwoSendersOneStore: two instances on one PostgreSQL store, both
// sending, mail each subscriber each item once.
func TestMailTwoSendersOneStore(t *testing.T) {
	u := pgtest.Schema(t)
	mp := mailtest.StartMailpit(t)
	page := apptest.NewPage("/rss", "application/rss+xml", rssItems(1))
	one := mailConfig(t, apptest.Serve(t, page), mp.SMTPURL(), "instant")
	b, err := os.ReadFile(one)
	if err != nil {
		t.Fatal(err)
	}
	two := writeFile(t, strings.ReplaceAll(strings.ReplaceAll(string(b), mailBase, "https://two.aggregator.test"), "/db/aggregator.db", "/db2/aggregator.db"))
	var stores []*postgres.DB
	for range 2 {
		db, err := postgres.Open(context.Background(), u, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		stores = append(stores, db)
		t.Cleanup(func() { db.Close() })
	}
	mo := MailOptions{Every: 10 * time.Millisecond, Sessions: 3}
	a := runOn(t, one, stores[0], mo)
	runOn(t, two, stores[1], mo)
	apptest.WaitForItems(t, mailBase, "news", 1)
	apptest.WaitForItems(t, "https://two.aggregator.test", "news", 1)

	var addrs []string
	for i := range 40 {
		addrs = append(addrs, fmt.Sprintf("r%02d@example.org", i))
	}
	listSubscribe(t, stores[0], "news", 0, addrs...)
	a.lists.Kick()
	mp.WaitCount(t, len(addrs))
	page.Serve(rssItems(2))
	if _, err := a.Poll(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	mp.WaitCount(t, 2*len(addrs))
	settle()
	per := map[string]int{}
	for _, m := range mp.Messages(t) {
		for _, to := range m.To {
			per[to.Address]++
		}
	}
	for _, addr := range addrs {
		if per[addr] != 2 {
			t.Errorf("%s got %d mails, want 2 (one per item)", addr, per[addr])
		}
	}
}
