package app

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/app/apptest"
	"github.com/kpolicy/aggregator/internal/mail/mailtest"
	"github.com/kpolicy/aggregator/internal/store"
)

// listSubscribe puts confirmed subscribers on channel's list straight into
// the store, their mail starting after Seq from.
func listSubscribe(t *testing.T, st store.Lists, channel string, from uint64, addrs ...string) {
	t.Helper()
	ctx := context.Background()
	for _, a := range addrs {
		if _, _, err := st.AddSubscriber(ctx, store.Subscriber{Channel: channel, Address: a, Created: time.Now()}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.ConfirmSubscriber(ctx, channel, a, time.Now(), from); err != nil {
			t.Fatal(err)
		}
	}
}

func stubTo(s *mailtest.Stub, addr string) int {
	n := 0
	for _, m := range s.Messages() {
		for _, to := range m.To {
			if to == addr {
				n++
			}
		}
	}
	return n
}

// TestMailBounceAndRetry: an address answered 5xx three times is bounced
// and mailed no more (counted on /status, never named); one answered 4xx
// gets its mail once the server takes it; the others are not held up.
func TestMailBounceAndRetry(t *testing.T) {
	var slowTries atomic.Int32
	stub := mailtest.StartStub(t, func(cmd, arg string) string {
		switch {
		case cmd == "RCPT" && strings.Contains(arg, "bad@"):
			return "550 5.1.1 <bad@example.org>: no such user"
		case cmd == "RCPT" && strings.Contains(arg, "slow@") && slowTries.Add(1) <= 2:
			return "451 4.7.1 greylisted, try again"
		}
		return ""
	})
	page := apptest.NewPage("/rss", "application/rss+xml", rssItems(1))
	r := startApp(t, mailConfig(t, apptest.Serve(t, page), stub.SMTPURL(), "instant"), func(d *Deps) {
		d.Mail = MailOptions{Every: 20 * time.Millisecond, Backoff: 20 * time.Millisecond, RejectWait: 20 * time.Millisecond}
	})
	apptest.WaitForItems(t, r.base, "news", 1)
	listSubscribe(t, r.db, "news", 0, "bad@example.org", "good@example.org", "slow@example.org")
	r.lists.Kick()

	ctx := context.Background()
	apptest.Eventually(t, "bad@ bounced", func() bool {
		s, _ := r.db.Subscriber(ctx, "news", "bad@example.org")
		return s.State == store.Bounced
	})
	apptest.Eventually(t, "slow@ mailed", func() bool { return stubTo(stub, "slow@example.org") == 1 })
	if n := stubTo(stub, "good@example.org"); n != 1 {
		t.Errorf("good@ got %d mails, want 1", n)
	}
	if s, _ := r.db.Subscriber(ctx, "news", "bad@example.org"); s.Bounces != store.MaxBounces {
		t.Errorf("bad@ bounces %d, want %d", s.Bounces, store.MaxBounces)
	}
	if got := slowTries.Load(); got != 3 {
		t.Errorf("slow@ tried %d times, want 3 (two 451s, then taken)", got)
	}
	// Nothing more for the bounced address, whatever arrives.
	page.Serve(rssItems(2))
	repoll(t, r)
	apptest.Eventually(t, "good@ and slow@ get item 2", func() bool {
		return stubTo(stub, "good@example.org") == 2 && stubTo(stub, "slow@example.org") == 2
	})
	for _, f := range []string{"", "?format=json"} {
		_, b := apptest.Get(t, r.base+"/status"+f)
		body := string(b)
		if strings.Contains(body, "@example.org") {
			t.Errorf("/status%s names an address", f)
		}
		if !strings.Contains(body, "bounced") {
			t.Errorf("/status%s does not show the bounced count:\n%.2000s", f, body)
		}
	}
	var m []byte
	apptest.Eventually(t, "the fourth mail counted", func() bool {
		_, m = apptest.Get(t, r.base+"/metrics")
		return strings.Contains(string(m), `aggregator_mail_sent_total{channel="news"} 4`)
	})
	for _, want := range []string{`aggregator_mail_subscribers{channel="news",state="bounced"} 1`,
		`aggregator_mail_subscribers{channel="news",state="confirmed"} 2`} {
		if !strings.Contains(string(m), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(string(m), "@example.org") {
		t.Errorf("/metrics names an address")
	}
	_, b := apptest.Get(t, r.base+"/status?format=json")
	if !strings.Contains(string(b), `"bounced": 1`) || !strings.Contains(string(b), `"confirmed": 2`) {
		t.Errorf("/status JSON counts:\n%s", b)
	}
}

// TestMailServerDown: while the SMTP server refuses connections nothing
// is lost: the loop backs off, /status says so, and once the server is
// back every subscriber gets the item once.
func TestMailServerDown(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	var mu sync.Mutex
	connects := 0
	stub := mailtest.StartStub(t, func(cmd, arg string) string {
		if cmd == "CONNECT" {
			mu.Lock()
			connects++
			mu.Unlock()
			if down.Load() {
				return "421 4.3.2 service not available"
			}
		}
		return ""
	})
	page := apptest.NewPage("/rss", "application/rss+xml", rssItems(1))
	r := startApp(t, mailConfig(t, apptest.Serve(t, page), stub.SMTPURL(), "instant"), func(d *Deps) {
		d.Mail = MailOptions{Every: 20 * time.Millisecond, Backoff: 50 * time.Millisecond}
	})
	apptest.WaitForItems(t, r.base, "news", 1)
	listSubscribe(t, r.db, "news", 0, "a@example.org", "b@example.org")
	r.lists.Kick()
	apptest.Eventually(t, "/status shows the failure", func() bool {
		_, b := apptest.Get(t, r.base+"/status?format=json")
		return strings.Contains(string(b), `"retry_at"`) && strings.Contains(string(b), "421")
	})
	if n := len(stub.Messages()); n != 0 {
		t.Fatalf("%d mails while down", n)
	}
	down.Store(false)
	apptest.Eventually(t, "both mailed", func() bool {
		return stubTo(stub, "a@example.org") == 1 && stubTo(stub, "b@example.org") == 1
	})
	time.Sleep(200 * time.Millisecond)
	if a, b := stubTo(stub, "a@example.org"), stubTo(stub, "b@example.org"); a != 1 || b != 1 {
		t.Errorf("mails after recovery: a %d, b %d; want 1 each", a, b)
	}
}
