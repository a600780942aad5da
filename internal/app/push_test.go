package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/app/apptest"
	"github.com/kpolicy/aggregator/internal/push/pushtest"
)

// pushedAtom is an Atom feed naming hub and self, entries 1..n.
func pushedAtom(hub, self string, n int, extra ...string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Pushed</title><id>urn:pushed</id><updated>2026-03-01T09:00:00Z</updated>
<link rel="hub" href="%s"/><link rel="self" href="%s"/><link href="https://pushed.example/"/>`, hub, self)
	entry := func(id string, i int) {
		fmt.Fprintf(&b, `<entry><id>urn:pushed:%s</id><title>Entry %s</title><link href="https://pushed.example/%s"/><updated>%s</updated></entry>`,
			id, id, id, time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC).Add(time.Duration(i)*time.Minute).Format(time.RFC3339))
	}
	for i := n; i >= 1; i-- {
		entry(fmt.Sprint(i), i)
	}
	for _, id := range extra {
		entry(id, n+1)
	}
	b.WriteString("</feed>")
	return []byte(b.String())
}

// TestWebSubSubscriber runs the service against a spec hub
// (internal/push/pushtest, not our own hub): the first poll finds the hub,
// the service subscribes and the hub verifies it; a forged delivery is
// counted and stored nowhere, a signed one is in the channel's documents
// within seconds although the source is polled hourly; twenty more measure
// the latency from delivery to channel document; disabling the source on
// reload unsubscribes it.
func TestWebSubSubscriber(t *testing.T) {
	hub := pushtest.New(t)
	hub.URL = apptest.Serve(t, hub) + "/hub"
	hub.Client = apptest.Client()
	var polls atomic.Int32
	var originURL string
	originURL = apptest.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/atom+xml")
		if r.URL.Path != "/feed.atom" { // a feed that names no hub
			w.Write([]byte(`<feed xmlns="http://www.w3.org/2005/Atom"><title>Polled</title><id>urn:polled</id><entry><id>urn:polled:1</id><title>Polled 1</title><link href="https://polled.example/1"/></entry></feed>`))
			return
		}
		polls.Add(1)
		w.Write(pushedAtom(hub.URL, originURL+"/feed.atom", 1))
	}))
	topic := originURL + "/feed.atom"
	config := func(disabled bool) string {
		return fmt.Sprintf(`server: { base_url: "http://aggregator.test" }
storage: { path: %q }
fetch: { interval: 1h, timeout: 5s, allow_private_networks: true, host_gap: 0s }
sources:
  - { id: pushed, url: %q, interval: 1h, disabled: %v }
  - { id: polled, url: %q }
channels:
  - { id: news, title: News, sources: [pushed, polled] }
`, filepath.Join(t.TempDir(), "aggregator.db"), topic, disabled, originURL+"/other.atom")
	}
	path := writeFile(t, config(false))
	r := startApp(t, path)
	apptest.WaitForItems(t, r.base, "news", 2)
	apptest.Eventually(t, "the hub's verified subscription", func() bool { return len(hub.Subs(topic)) == 1 })
	sub := hub.Subs(topic)[0]
	if !strings.HasPrefix(sub.Callback, "http://aggregator.test/websub/callback/pushed/") || len(sub.Secret) < 64 {
		t.Fatalf("subscription %+v: want a callback under base_url and a 32-byte secret", sub)
	}
	pollsBefore := polls.Load()

	if codes := hub.Publish(topic, "application/atom+xml", pushedAtom(hub.URL, topic, 1, "forged"), "guessed"); !slices.Equal(codes, []int{http.StatusAccepted}) {
		t.Fatalf("forged delivery answered %v, want [202]", codes)
	}
	if codes := hub.Publish(topic, "application/atom+xml", pushedAtom(hub.URL, topic, 2), ""); !slices.Equal(codes, []int{http.StatusNoContent}) {
		t.Fatalf("signed delivery answered %v, want [204]", codes)
	}
	apptest.Eventually(t, "the pushed entry in the channel", func() bool {
		_, titles := apptest.JSONTitles(t, r.base, "news")
		return slices.Contains(titles, "Entry 2")
	})
	for _, f := range []string{"json", "atom", "rss"} {
		if _, body := apptest.Get(t, r.base+"/feeds/news."+f); strings.Contains(string(body), "forged") || !strings.Contains(string(body), "Entry 2") {
			t.Errorf("news.%s: want Entry 2 and nothing forged:\n%.500s", f, body)
		}
	}

	var status struct {
		Sources []struct {
			ID       string    `json:"id"`
			NextPoll time.Time `json:"next_poll"`
			Push     *struct {
				State        string    `json:"state"`
				Hub          string    `json:"hub"`
				LastDelivery time.Time `json:"last_delivery"`
			} `json:"websub"`
		} `json:"sources"`
		Pushes map[string]uint64 `json:"websub_deliveries"`
	}
	_, body := apptest.Get(t, r.base+"/status?format=json")
	if err := json.Unmarshal(body, &status); err != nil {
		t.Fatal(err)
	}
	if p := status.Sources[0].Push; p == nil || p.State != "active" || p.Hub != hub.URL || p.LastDelivery.IsZero() {
		t.Errorf("/status websub = %+v, want active at %s with a delivery", p, hub.URL)
	}
	if strings.Contains(string(body), sub.Secret) {
		t.Error("/status shows the secret")
	}
	if status.Pushes["stored"] != 1 || status.Pushes["bad_signature"] != 1 {
		t.Errorf("/status websub_deliveries = %v, want stored 1, bad_signature 1", status.Pushes)
	}
	if next := time.Until(status.Sources[0].NextPoll); next < 50*time.Minute {
		t.Errorf("next poll in %v: the source is polled hourly", next)
	}
	_, metrics := apptest.Get(t, r.base+"/metrics")
	if !strings.Contains(string(metrics), `aggregator_push_deliveries_total{result="bad_signature"} 1`) {
		t.Errorf("metrics lack the refused delivery:\n%s", grepLines(string(metrics), "push"))
	}

	// Latency: delivery sent → channel document lists the new entry.
	var lat []time.Duration
	for n := 3; n < 23; n++ {
		start := time.Now()
		if codes := hub.Publish(topic, "application/atom+xml", pushedAtom(hub.URL, topic, n), ""); !slices.Equal(codes, []int{http.StatusNoContent}) {
			t.Fatalf("delivery %d answered %v; hub %+v; requests %d\n%s", n, codes, hub.Subs(topic), hub.Requests("subscribe"), r.logs)
		}
		want := fmt.Sprintf("Entry %d", n)
		for deadline := start.Add(15 * time.Second); ; time.Sleep(time.Millisecond) { // finer than apptest.Eventually's 25 ms
			if _, titles := apptest.JSONTitles(t, r.base, "news"); slices.Contains(titles, want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never reached the channel", want)
			}
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	t.Logf("push latency, delivery to channel document, %d deliveries: p50 %v, p99 %v, max %v",
		len(lat), lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1])
	if got := polls.Load(); got != pollsBefore {
		t.Errorf("the origin was polled %d more times; the entries came by push", got-pollsBefore)
	}

	apptest.SaveLikeAnEditor(t, path, config(true))
	apptest.Eventually(t, "the unsubscription", func() bool { return len(hub.Subs(topic)) == 0 && hub.Requests("unsubscribe") == 1 })
	if code := hub.Deliver(sub.Callback, topic, "application/atom+xml", []byte("<feed/>"), "sha256="+pushtest.Sign(sub.Secret, []byte("<feed/>"))); code != http.StatusGone {
		t.Errorf("delivery to a disabled source answered %d, want 410", code)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
