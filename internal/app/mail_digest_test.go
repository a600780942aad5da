package app

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/app/apptest"
	"github.com/kpolicy/aggregator/internal/mail/mailtest"
	"github.com/kpolicy/aggregator/internal/store"
)

// fakeClock is a clock that moves when told.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// settle waits for a few passes of the loop.
func settle() { time.Sleep(150 * time.Millisecond) }

// TestMailDaily: a daily list mails at its hour (mail.timezone) the items
// that entered since the last digest, nothing before the hour, nothing on
// a day without items, and each item once.
func TestMailDaily(t *testing.T) {
	mp := mailtest.StartMailpit(t)
	page := apptest.NewPage("/rss", "application/rss+xml", rssItems(1))
	clock := &fakeClock{t: time.Date(2026, 3, 2, 5, 0, 0, 0, time.UTC)}
	path := mailConfig(t, apptest.Serve(t, page), mp.SMTPURL(), `daily, at: "07:00"`)
	r := startApp(t, path, func(d *Deps) {
		d.Mail = MailOptions{Every: 20 * time.Millisecond, Now: clock.Now}
	})
	apptest.WaitForItems(t, r.base, "news", 1)
	ctx := context.Background()
	const reader = "daily@example.org"
	if _, _, err := r.db.AddSubscriber(ctx, store.Subscriber{Channel: "news", Address: reader, Created: clock.Now()}); err != nil {
		t.Fatal(err)
	}
	last, err := r.members.LastSeq(ctx, "news")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.db.ConfirmSubscriber(ctx, "news", reader, clock.Now(), last); err != nil {
		t.Fatal(err)
	}
	page.Serve(rssItems(3))
	repoll(t, r)
	apptest.WaitForItems(t, r.base, "news", 3)

	clock.Set(time.Date(2026, 3, 2, 6, 59, 0, 0, time.UTC))
	r.lists.Kick()
	settle()
	if n := len(mailTo(t, mp, reader)); n != 0 {
		t.Fatalf("%d mails before 07:00", n)
	}
	clock.Set(time.Date(2026, 3, 2, 7, 0, 0, 0, time.UTC))
	got := waitMailTo(t, mp, reader, 1)
	if !strings.Contains(got[0].Subject, "daily") || !strings.Contains(got[0].Subject, "2 new items") {
		t.Errorf("subject %q", got[0].Subject)
	}
	text := mp.Message(t, got[0].ID).Text
	if !strings.Contains(text, "Post number 2") || !strings.Contains(text, "Post number 3") || strings.Contains(text, "Post number 1") {
		t.Errorf("the digest carries the wrong items:\n%s", text)
	}
	// The next day, nothing new: no mail.
	clock.Set(time.Date(2026, 3, 3, 7, 1, 0, 0, time.UTC))
	r.lists.Kick()
	settle()
	if n := len(mailTo(t, mp, reader)); n != 1 {
		t.Fatalf("%d mails after a day without items, want 1", n)
	}
	if s, _ := r.db.Subscriber(ctx, "news", reader); !s.LastPeriod.Equal(time.Date(2026, 3, 3, 7, 0, 0, 0, time.UTC)) {
		t.Errorf("LastPeriod %v after the empty day", s.LastPeriod)
	}
	page.Serve(rssItems(4))
	repoll(t, r)
	apptest.WaitForItems(t, r.base, "news", 4)
	clock.Set(time.Date(2026, 3, 3, 23, 0, 0, 0, time.UTC))
	r.lists.Kick()
	settle()
	if n := len(mailTo(t, mp, reader)); n != 1 {
		t.Fatalf("%d mails before the next 07:00, want 1", n)
	}
	clock.Set(time.Date(2026, 3, 4, 7, 0, 0, 0, time.UTC))
	got = waitMailTo(t, mp, reader, 2)
	text = mp.Message(t, got[1].ID).Text
	if !strings.Contains(text, "Post number 4") || strings.Contains(text, "Post number 3") {
		t.Errorf("the third day's digest:\n%s", text)
	}
}
