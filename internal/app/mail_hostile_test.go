package app

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/app/apptest"
	"github.com/kpolicy/aggregator/internal/mail"
	"github.com/kpolicy/aggregator/internal/mail/mailtest"
)

// mailRequest sends one request to r's handler from client ip.
func mailRequest(r *running, method, path, body, ip string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, mailBase+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.RemoteAddr = ip + ":4000"
	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, req)
	return rec
}

// TestMailHostileInput: what a sign-up form and a mail link receive from
// anyone: bad addresses answered with a 400 that says what is wrong and
// nothing stored, an oversized body, forged, expired and misused tokens,
// and the rate limits.
func TestMailHostileInput(t *testing.T) {
	stub := mailtest.StartStub(t, nil)
	page := apptest.NewPage("/rss", "application/rss+xml", rssItems(1))
	r := startApp(t, mailConfig(t, apptest.Serve(t, page), stub.SMTPURL(), "instant"), func(d *Deps) {
		d.Mail = MailOptions{Every: 50 * time.Millisecond}
	})
	apptest.WaitForItems(t, r.base, "news", 1)
	ctx := context.Background()

	for _, c := range []struct{ name, addr, says string }{
		{"CRLF", "a@example.org\r\nBcc: all@example.org", ""},
		{"NUL", "a\x00@example.org", ""},
		{"display name", "Bob <bob@example.org>", ""},
		{"no domain", "bob", ""},
		{"empty", "", ""},
		{"too long", strings.Repeat("a", 300) + "@example.org", ""},
	} {
		rec := mailRequest(r, "POST", "/channels/news/subscribe", url.Values{"email": {c.addr}}.Encode(), "198.51.100.1")
		if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "<html") {
			t.Errorf("%s: %d, want a 400 page\n%.300s", c.name, rec.Code, rec.Body)
		}
	}
	if n, _ := r.db.ListCounts(ctx, "news"); n.Pending+n.Confirmed != 0 {
		t.Errorf("bad addresses stored: %+v", n)
	}
	big := "email=" + strings.Repeat("a", 1<<20)
	if rec := mailRequest(r, "POST", "/channels/news/subscribe", big, "198.51.100.1"); rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("1 MB body: %d, want 413", rec.Code)
	}
	if rec := mailRequest(r, "POST", "/channels/quiet/subscribe", "email=a%40example.org", "198.51.100.1"); rec.Code != http.StatusNotFound {
		t.Errorf("sign-up to a channel without a list: %d, want 404", rec.Code)
	}

	// Links: forged, cut, of another purpose, expired, of a channel
	// without a list.
	tok := r.lists.tokens
	now := time.Now()
	good := tok.Make(mail.Confirm, "news", "a@example.org", now)
	for _, c := range []struct {
		name, path string
		code       int
	}{
		{"forged", mail.LinkPath(mail.Confirm, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), 400},
		{"cut short", mail.LinkPath(mail.Confirm, good[:len(good)-3]), 400},
		{"another purpose", mail.LinkPath(mail.Unsubscribe, good), 400},
		{"expired", mail.LinkPath(mail.Confirm, tok.Make(mail.Confirm, "news", "a@example.org", now.Add(-8*24*time.Hour))), 400},
		{"channel without a list", mail.LinkPath(mail.Confirm, tok.Make(mail.Confirm, "quiet", "a@example.org", now)), 404},
		{"unknown channel", mail.LinkPath(mail.Unsubscribe, tok.Make(mail.Unsubscribe, "nope", "a@example.org", now)), 404},
		{"huge token", "/mail/confirm/" + strings.Repeat("A", 5000), 400},
	} {
		for _, m := range []string{"GET", "POST"} {
			if rec := mailRequest(r, m, c.path, "", "198.51.100.2"); rec.Code != c.code {
				t.Errorf("%s %s: %d, want %d", m, c.name, rec.Code, c.code)
			}
		}
	}
	// A confirm token for an address that never signed up confirms nothing.
	if rec := mailRequest(r, "POST", mail.LinkPath(mail.Confirm, good), "", "198.51.100.2"); rec.Code != http.StatusNotFound {
		t.Errorf("confirming an address never signed up: %d, want 404", rec.Code)
	}

	// Rate limits: one confirmation an hour for an address, however
	// often it signs up; a client's sign-ups are limited (429).
	for range 3 {
		if rec := mailRequest(r, "POST", "/channels/news/subscribe", "email=same%40example.org", "198.51.100.3"); rec.Code != 200 {
			t.Fatalf("sign-up: %d", rec.Code)
		}
	}
	apptest.Eventually(t, "the confirmation", func() bool { return len(stub.Messages()) >= 1 })
	codes := map[int]int{}
	for i := range mail.SignupBurst + 2 {
		addr := url.Values{"email": {string(rune('a'+i)) + "@example.org"}}.Encode()
		codes[mailRequest(r, "POST", "/channels/news/subscribe", addr, "203.0.113.9").Code]++
	}
	if codes[200] != mail.SignupBurst || codes[429] != 2 {
		t.Errorf("sign-ups from one client: %v, want %d × 200 then 429", codes, mail.SignupBurst)
	}
	time.Sleep(200 * time.Millisecond)
	n := 0
	for _, m := range stub.Messages() {
		if len(m.To) == 1 && m.To[0] == "same@example.org" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d confirmations to one address signed up 3 times, want 1", n)
	}
}
