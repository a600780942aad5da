package app

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/app/apptest"
	"github.com/kpolicy/aggregator/internal/mail/mailtest"
	"github.com/kpolicy/aggregator/internal/store"
)

// TestMailFigures measures one instant send to a large list against
// Mailpit: mails per second through the whole loop (claim, compose, SMTP,
// log) and the heap while it runs. It runs only when
// AGGREGATOR_MAIL_FIGURES is set, to the number of subscribers (100000
// for the figures of docs/mail.md):
//
//	AGGREGATOR_MAIL_FIGURES=100000 go test -run TestMailFigures -v -timeout 60m ./internal/app/
func TestMailFigures(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("AGGREGATOR_MAIL_FIGURES"))
	if n <= 0 {
		t.Skip("AGGREGATOR_MAIL_FIGURES is not set to a number of subscribers")
	}
	mp := mailtest.StartMailpit(t, "--max", "1000") // keeps the newest 1,000: its disk stays small
	page := apptest.NewPage("/rss", "application/rss+xml", rssItems(1))
	r := startApp(t, mailConfig(t, apptest.Serve(t, page), mp.SMTPURL(), "instant"), func(d *Deps) {
		d.Mail = MailOptions{Every: time.Hour}
	})
	apptest.WaitForItems(t, r.base, "news", 1)
	ctx := context.Background()
	last, err := r.members.LastSeq(ctx, "news")
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				addr := fmt.Sprintf("reader%06d@example.org", i)
				if _, _, err := r.db.AddSubscriber(ctx, store.Subscriber{Channel: "news", Address: addr, Created: began}); err != nil {
					t.Error(err)
					return
				}
				if _, err := r.db.ConfirmSubscriber(ctx, "news", addr, began, last); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	t.Logf("seeded %d confirmed subscribers in %v", n, time.Since(began).Round(time.Millisecond))

	page.Serve(rssItems(2))
	repoll(t, r)
	apptest.WaitForItems(t, r.base, "news", 2)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak uint64
	stop := make(chan struct{})
	var sampler sync.WaitGroup
	sampler.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse)
			}
		}
	})
	start := time.Now()
	r.lists.Kick()
	for {
		// The loop's own counters, not Status: Status counts the list in
		// the store, a read of every subscriber, which at 100,000 every
		// 200 ms would be the figure's own load.
		r.lists.mu.Lock()
		st := *r.lists.stateOf("news")
		r.lists.mu.Unlock()
		if st.Sent >= uint64(n) {
			break
		}
		if st.Failed > 0 {
			t.Fatalf("failures: %+v", st)
		}
		time.Sleep(200 * time.Millisecond)
	}
	took := time.Since(start)
	close(stop)
	sampler.Wait()
	t.Logf("sent %d mails in %v: %.0f mails/s; heap in use %.1f MB before, peak %.1f MB during (+%.1f MB)",
		n, took.Round(time.Millisecond), float64(n)/took.Seconds(), float64(base)/1e6, float64(peak)/1e6, (float64(peak)-float64(base))/1e6)
}
