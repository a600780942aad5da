package app

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/app/apptest"
	"github.com/kpolicy/aggregator/internal/mail/mailtest"
	"github.com/kpolicy/aggregator/internal/store"
)

// The mailing lists, end to end: the App, its store, a real SMTP server
// (Mailpit) and an origin whose feed the test changes.

const mailBase = "https://aggregator.test"

// rssItems is an RSS feed of n items, the newest last added.
func rssItems(n int) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0"?><rss version="2.0"><channel><title>Blog</title><link>https://blog.example.org/</link>`)
	for i := n; i >= 1; i-- {
		fmt.Fprintf(&b, `<item><title>Post number %d</title><link>https://blog.example.org/p/%d</link><guid>https://blog.example.org/p/%d</guid>`+
			`<pubDate>%s</pubDate><description>Summary of post %d</description></item>`,
			i, i, i, time.Date(2025, 1, i, 9, 0, 0, 0, time.UTC).Format(time.RFC1123Z), i)
	}
	b.WriteString(`</channel></rss>`)
	return []byte(b.String())
}

// mailConfig writes the config of one source (the page) and one channel
// with a list of digest, mailing through smtpURL.
func mailConfig(t *testing.T, originURL, smtpURL, digest string) string {
	t.Helper()
	return writeFile(t, fmt.Sprintf(`server: { base_url: %q }
storage: { path: %q }
fetch: { interval: 1h, timeout: 5s, allow_private_networks: true, host_gap: 0s }
mail:
  smtp: %q
  from: "The Blog <updates@example.org>"
  postal_address: "1 Main St, Springfield"
sources:
  - { id: blog, url: %q, title: "The Blog" }
channels:
  - { id: news, title: News, sources: [blog], mail: { digest: %s } }
  - { id: quiet, title: Quiet, sources: [blog] }
`, mailBase, t.TempDir()+"/db/aggregator.db", smtpURL, originURL+"/rss", digest))
}

func postForm(t *testing.T, u string, form url.Values) (*http.Response, string) {
	t.Helper()
	resp, err := apptest.Client().PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var mailLinkRE = regexp.MustCompile(`https://aggregator\.test/mail/(confirm|unsubscribe|manage)/[A-Za-z0-9_-]+`)

// linkIn returns the first link of purpose in text.
func linkIn(t *testing.T, text, purpose string) string {
	t.Helper()
	for _, l := range mailLinkRE.FindAllString(text, -1) {
		if strings.Contains(l, "/mail/"+purpose+"/") {
			return l
		}
	}
	t.Fatalf("no %s link in:\n%s", purpose, text)
	return ""
}

// mailTo returns Mailpit's messages to addr, oldest first.
func mailTo(t *testing.T, mp *mailtest.Mailpit, addr string) []mailtest.Summary {
	t.Helper()
	var out []mailtest.Summary
	all := mp.Messages(t)
	for i := len(all) - 1; i >= 0; i-- {
		for _, to := range all[i].To {
			if to.Address == addr {
				out = append(out, all[i])
			}
		}
	}
	return out
}

func waitMailTo(t *testing.T, mp *mailtest.Mailpit, addr string, n int) []mailtest.Summary {
	t.Helper()
	var got []mailtest.Summary
	apptest.Eventually(t, fmt.Sprintf("%d mails to %s", n, addr), func() bool {
		got = mailTo(t, mp, addr)
		return len(got) >= n
	})
	return got
}

func repoll(t *testing.T, r *running) {
	t.Helper()
	if _, err := r.Poll(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
}

// TestMailWholePath: a reader subscribes on the channel page, gets one
// confirmation mail, opens its link (a page with a button: nothing
// changes), confirms with the button, gets the next poll's new item in a
// list mail with List-Id, List-Unsubscribe and List-Unsubscribe-Post,
// unsubscribes with one click, and gets nothing of the item after.
func TestMailWholePath(t *testing.T) {
	mp := mailtest.StartMailpit(t)
	page := apptest.NewPage("/rss", "application/rss+xml", rssItems(2))
	originURL := apptest.Serve(t, page)
	r := startApp(t, mailConfig(t, originURL, mp.SMTPURL(), "instant"), func(d *Deps) {
		d.Mail = MailOptions{Every: 50 * time.Millisecond}
	})
	apptest.WaitForItems(t, r.base, "news", 2)

	_, body := apptest.Get(t, r.base+"/channels/news")
	if !strings.Contains(string(body), `action="/channels/news/subscribe"`) {
		t.Fatalf("the channel page has no sign-up form:\n%s", body)
	}
	if _, quiet := apptest.Get(t, r.base+"/channels/quiet"); strings.Contains(string(quiet), `action="/channels/quiet/subscribe"`) {
		t.Errorf("a channel without mail shows a sign-up form")
	}
	itemPage := apptest.WaitForSearch(t, r.base, "number")
	if _, b := apptest.Get(t, r.base+itemPage); !strings.Contains(string(b), `action="/channels/news/subscribe"`) {
		t.Errorf("the item page %s has no sign-up form for its channel", itemPage)
	}
	const reader = "reader@example.org"
	resp, text := postForm(t, r.base+"/channels/news/subscribe", url.Values{"email": {"reader@Example.ORG"}})
	if resp.StatusCode != 200 || !strings.Contains(text, "Check your inbox") {
		t.Fatalf("sign-up: %d\n%s", resp.StatusCode, text)
	}
	confirm := waitMailTo(t, mp, reader, 1)[0]
	msg := mp.Message(t, confirm.ID)
	if h := mp.Headers(t, confirm.ID); len(h["List-Unsubscribe"]) != 0 {
		t.Errorf("the confirmation mail has List-Unsubscribe")
	}
	link := linkIn(t, msg.Text, "confirm")

	resp, b := apptest.Get(t, link)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `method="post"`) {
		t.Fatalf("GET of the confirm link: %d\n%s", resp.StatusCode, b)
	}
	if s, err := r.db.Subscriber(context.Background(), "news", reader); err != nil || s.State != store.Pending {
		t.Fatalf("after the GET: %+v, %v; want still pending", s, err)
	}
	// A second sign-up within the hour: the same answer, no second mail.
	if resp, text := postForm(t, r.base+"/channels/news/subscribe", url.Values{"email": {reader}}); resp.StatusCode != 200 || !strings.Contains(text, "Check your inbox") {
		t.Fatalf("second sign-up: %d", resp.StatusCode)
	}
	if resp, text := postForm(t, link, nil); resp.StatusCode != 200 || !strings.Contains(text, "Subscribed") {
		t.Fatalf("POST confirm: %d\n%s", resp.StatusCode, text)
	}

	page.Serve(rssItems(3))
	repoll(t, r)
	got := waitMailTo(t, mp, reader, 2)
	if len(got) != 2 || got[1].Subject != "Post number 3" {
		t.Fatalf("mails to the reader: %+v; want the confirmation, then post 3", got)
	}
	list := mp.Message(t, got[1].ID)
	h := mp.Headers(t, got[1].ID)
	if id := strings.Join(h["List-Id"], ""); !strings.Contains(id, "<news.example.org>") {
		t.Errorf("List-Id %q", id)
	}
	if p := strings.Join(h["List-Unsubscribe-Post"], ""); p != "List-Unsubscribe=One-Click" {
		t.Errorf("List-Unsubscribe-Post %q", p)
	}
	if !strings.Contains(list.Text, "Post number 3") || strings.Contains(list.Text, "Post number 2") {
		t.Errorf("the mail carries the wrong items:\n%s", list.Text)
	}
	unsub := ""
	for _, l := range list.ListUnsubscribe.Links {
		if strings.HasPrefix(l, mailBase+"/mail/unsubscribe/") {
			unsub = l
		}
	}
	if unsub == "" {
		t.Fatalf("List-Unsubscribe %q has no https link", h["List-Unsubscribe"])
	}
	req, _ := http.NewRequest("POST", unsub, strings.NewReader("List-Unsubscribe=One-Click"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := apptest.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("one-click unsubscribe: %d", res.StatusCode)
	}
	if _, err := r.db.Subscriber(context.Background(), "news", reader); err == nil {
		t.Fatalf("still subscribed after the one-click POST")
	}

	page.Serve(rssItems(4))
	repoll(t, r)
	apptest.WaitForItems(t, r.base, "news", 4)
	// A pass or two later, still two mails.
	time.Sleep(300 * time.Millisecond)
	if n := len(mailTo(t, mp, reader)); n != 2 {
		t.Errorf("%d mails to the reader after leaving, want 2", n)
	}
}
