package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/app/apptest"
)

// TestStatus: /status lists every source with what its last poll did; a
// source that answered 410 Gone is retired, and the page says it is not
// polled.
func TestStatus(t *testing.T) {
	feed, err := os.ReadFile("testdata/peninsula.rss")
	if err != nil {
		t.Fatal(err)
	}
	originURL := apptest.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/feed.rss":
			w.Header().Set("Content-Type", "application/rss+xml")
			w.Write(feed)
		case "/gone.rss":
			http.Error(w, "gone", http.StatusGone)
		default:
			http.NotFound(w, r)
		}
	}))
	r := startApp(t, writeFile(t, fmt.Sprintf(`server: { base_url: "http://aggregator.test" }
storage: { path: %q }
fetch: { timeout: 5s, allow_private_networks: true, host_gap: 0s }
sources:
  - { id: s0, url: %q }
  - { id: s1, url: %q }
channels:
  - { id: all, title: All, sources: [s0, s1] }
`, filepath.Join(t.TempDir(), "aggregator.db"), originURL+"/feed.rss", originURL+"/gone.rss")))
	base := r.base
	apptest.WaitForItems(t, base, "all", 2)
	var got struct {
		Sources []struct {
			ID         string `json:"id"`
			Items      int    `json:"items"`
			LastStatus int    `json:"last_status"`
			Retired    bool   `json:"retired"`
		} `json:"sources"`
	}
	for range 100 { // the gone source may still be in flight
		_, body := apptest.Get(t, base+"/status?format=json")
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("%v\n%s", err, body)
		}
		if len(got.Sources) == 2 && got.Sources[1].Retired {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(got.Sources) != 2 || got.Sources[0].Items != 2 || got.Sources[0].LastStatus != 200 || !got.Sources[1].Retired {
		t.Fatalf("status=%+v, want s0 with 2 items and s1 retired", got.Sources)
	}
	resp, body := apptest.Get(t, base+"/status")
	if resp.StatusCode != 200 || !strings.Contains(string(body), "not polled (retired)") {
		t.Errorf("/status: %d\n%s", resp.StatusCode, body)
	}
}
