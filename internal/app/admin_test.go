package app

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/kpolicy/aggregator/internal/app/apptest"
	"github.com/kpolicy/aggregator/internal/config"
	"github.com/kpolicy/aggregator/internal/server"
)

// admin asks the running App's admin API with token; it returns the
// status and decodes a 200's JSON into out.
func admin(t *testing.T, r *running, method, path, token string, body []byte, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, r.base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := apptest.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	if resp.StatusCode == 200 && out != nil {
		if err := json.Unmarshal(b.Bytes(), out); err != nil {
			t.Fatalf("%s %s: %v\n%s", method, path, err, b.String())
		}
	}
	return resp.StatusCode
}

// TestAdminAPI: the running service polls a source now, previews a config
// against what it stores and runs, and explains an item, through its
// /admin routes, answering the result types the commands print.
func TestAdminAPI(t *testing.T) {
	o := newOrigin(t)
	path := writeConfig(t, o.URL, "")
	r := startApp(t, path, func(d *Deps) { d.AdminToken = "s3cret" })
	apptest.WaitForItems(t, r.base, "think-tanks", 3)

	if code := admin(t, r, "POST", "/admin/sources/38north/poll", "", nil, nil); code != 401 {
		t.Errorf("poll without the token: %d, want 401", code)
	}
	before := o.Count("/northkorea.atom")
	var one Polled
	if code := admin(t, r, "POST", "/admin/sources/38north/poll", "s3cret", nil, &one); code != 200 {
		t.Fatalf("poll: %d", code)
	}
	if one.SourceID != "38north" || one.Error != "" || one.State.Items != 1 || !one.State.LastPoll.Equal(one.State.LastSuccess) {
		t.Errorf("poll answered %+v, want 38north polled with its state", one)
	}
	if got := o.Count("/northkorea.atom"); got != before+1 {
		t.Errorf("origin asked %d times, want %d", got, before+1)
	}
	var all []Polled
	if code := admin(t, r, "POST", "/admin/poll", "s3cret", nil, &all); code != 200 || len(all) != 2 {
		t.Errorf("poll all: %d, %d results, want 2", code, len(all))
	}
	if code := admin(t, r, "POST", "/admin/poll?source=nope", "s3cret", nil, nil); code != 404 {
		t.Errorf("poll of an unknown source: %d, want 404", code)
	}

	// A config that leaves out 38 North's items: what it would show, and
	// what changes against the running one.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	next := strings.Replace(string(data), `description: "Everything from think tanks", tags: [think-tank] }`,
		`description: "Everything from think tanks", sources: [kei-peninsula] }`, 1)
	var pv PreviewResult
	q := url.Values{"channel": {"think-tanks"}, "file": {"next.yaml"}, "compare": {"1"}}
	if code := admin(t, r, "POST", "/admin/preview?"+q.Encode(), "s3cret", []byte(data), &pv); code != 200 {
		t.Fatalf("preview: %d", code)
	}
	if pv.Channel != "think-tanks" || len(pv.Items) != 3 || pv.Against == nil || len(pv.Against.Changes) != 0 || pv.Against.File != path {
		t.Errorf("preview of the running config: %+v, want its 3 items and no change against %s", pv, path)
	}
	if code := admin(t, r, "POST", "/admin/preview?"+q.Encode(), "s3cret", []byte(next), &pv); code != 200 {
		t.Fatalf("preview: %d", code)
	}
	if len(pv.Items) != 2 || pv.File != "next.yaml" || len(pv.Against.Changes) != 1 || pv.Against.Changes[0].Added || pv.Against.Changes[0].Item.SourceID != "38north" {
		t.Errorf("preview without 38north: %d items, changes %+v; want 2 items and 38north's one removed", len(pv.Items), pv.Against.Changes)
	}
	if code := admin(t, r, "POST", "/admin/preview?channel=nope", "s3cret", data, nil); code != 400 {
		t.Errorf("preview of an unknown channel: %d, want 400", code)
	}
	if code := admin(t, r, "POST", "/admin/preview?channel=think-tanks&file=bad.yaml", "s3cret", []byte("channels: [ { id: x } ]\n"), nil); code != 400 {
		t.Errorf("preview of a bad config: %d, want 400", code)
	}

	var ex []Explanation
	link := pv.Items[0].Link
	if code := admin(t, r, "GET", "/admin/explain?item="+url.QueryEscape(link), "s3cret", nil, &ex); code != 200 || len(ex) != 1 {
		t.Fatalf("explain %s: %d, %d answers", link, code, len(ex))
	}
	if ex[0].Found.Story.Link != link || len(ex[0].Channels) == 0 || len(ex[0].Reasons) == 0 {
		t.Errorf("explain answered %+v", ex[0])
	}
	if code := admin(t, r, "GET", "/admin/explain?item="+url.QueryEscape("https://nowhere.example/x"), "s3cret", nil, nil); code != 404 {
		t.Errorf("explain of nothing stored: %d, want 404", code)
	}
}

// TestStatusAfterRejectedReload: /status and /admin/status say which
// config runs, since when, and every problem of the reload refused since;
// an accepted reload clears it.
func TestStatusAfterRejectedReload(t *testing.T) {
	o := newOrigin(t)
	path := writeConfig(t, o.URL, "")
	first, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	next := string(first)
	r := startApp(t, path, func(d *Deps) {
		d.AdminToken = "s3cret"
		d.Load = func() (config.Config, error) {
			mu.Lock()
			defer mu.Unlock()
			return config.Parse(strings.NewReader(next), "next.yaml")
		}
	})
	apptest.WaitForItems(t, r.base, "think-tanks", 3)
	loaded := r.Running().Loaded

	mu.Lock()
	next = "channels:\n  - { id: x, sources: [missing] }\n  - { id: x }\n"
	mu.Unlock()
	r.Reload("SIGHUP")
	apptest.Eventually(t, "the rejection", func() bool { return r.Running().Rejected != nil })

	var st server.Status
	if code := admin(t, r, "GET", "/admin/status", "s3cret", nil, &st); code != 200 || st.Config == nil {
		t.Fatalf("/admin/status: %d %+v", code, st.Config)
	}
	rej := st.Config.Rejected
	if st.Config.File != path || !st.Config.Loaded.Equal(loaded) || rej == nil || rej.Why != "SIGHUP" || len(rej.Problems) < 2 {
		t.Fatalf("config status %+v (rejected %+v), want %s loaded at %v and the rejected reload's problems", st.Config, rej, path, loaded)
	}
	for _, p := range rej.Problems {
		if !strings.HasPrefix(p, "next.yaml:") {
			t.Errorf("problem %q does not name file:line", p)
		}
	}
	_, page := apptest.Get(t, r.base+"/status")
	if !bytes.Contains(page, []byte("reload rejected")) || !bytes.Contains(page, []byte("next.yaml:2: ")) {
		t.Errorf("the status page does not show the rejected reload:\n%s", page)
	}

	mu.Lock()
	next = string(first)
	mu.Unlock()
	r.Reload("fixed")
	apptest.Eventually(t, "the accepted reload", func() bool { return r.Running().Rejected == nil })
	if !r.Running().Loaded.After(loaded) {
		t.Errorf("loaded %v after the accepted reload, want later than %v", r.Running().Loaded, loaded)
	}
}
