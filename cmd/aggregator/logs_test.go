package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/app/apptest"
)

// TestServeJSONLogsAndMergedMetric runs serve with JSON logs on three
// outlets carrying one story (outletFeeds) and a source that redirects
// permanently (a warning on every poll until it is adopted). Every line
// on stdout and stderr is one JSON object with each key once, the
// listening line included; durations are seconds; and
// aggregator_items_total{change="merged"} counts the two merges the poll
// lines report.
func TestServeJSONLogsAndMergedMetric(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/moved.xml":
			http.Redirect(w, r, "/solo.xml", http.StatusMovedPermanently)
			return
		case "/solo.xml":
			w.Header().Set("Content-Type", "application/rss+xml; charset=utf-8")
			io.WriteString(w, `<rss version="2.0"><channel><title>Solo</title><link>https://solo.example/</link><description>d</description>
<item><title>A story of its own</title><link>https://solo.example/1</link><pubDate>Sat, 01 Mar 2025 10:00:00 +0900</pubDate></item></channel></rss>`)
			return
		}
		body, ok := outletFeeds[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/rss+xml; charset=utf-8")
		io.WriteString(w, body)
	}))
	defer origin.Close()
	dir := t.TempDir()
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "server: { listen: \"127.0.0.1:0\", base_url: \"http://aggregator.test\" }\nstorage: { path: %q }\n", filepath.Join(dir, "aggregator.db"))
	cfg.WriteString("fetch: { allow_private_networks: true, contact: ops@example.org, host_gap: 0s }\nsources:\n")
	for _, id := range []string{"yonhap", "hani", "kmib", "moved"} {
		fmt.Fprintf(&cfg, "  - { id: %s, url: %q, tags: [news] }\n", id, origin.URL+"/"+id+".xml")
	}
	cfg.WriteString("channels:\n  - { id: all, title: All, tags: [news] }\n")
	cfgPath := filepath.Join(dir, "feeds.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, stderr := &apptest.SyncBuffer{}, &apptest.SyncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "-config", cfgPath, "-log-format", "json"}, noenv, stdout, stderr)
	}()
	base := waitListeningJSON(t, stdout, stderr, done)
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if resp, _ := get(t, base+"/readyz"); resp.StatusCode == 200 {
			break // every source polled once
		} else if time.Now().After(deadline) {
			t.Fatalf("never ready: %d\n%s", resp.StatusCode, stderr.String())
		}
	}
	_, metrics := get(t, base+"/metrics")
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v\n%s", err, stderr.String())
	}

	for _, want := range []string{`aggregator_items_total{change="merged"} 2`, `aggregator_items_total{change="new"} 4`} {
		if !bytes.Contains(metrics, []byte(want)) {
			t.Errorf("metrics lack %s:\n%s", want, grepLines(string(metrics), "aggregator_items_total"))
		}
	}

	recs := append(jsonLines(t, "stdout", stdout.String()), jsonLines(t, "stderr", stderr.String())...)
	var polls, merged int
	var warned bool
	for _, rec := range recs {
		if rec["msg"] != "poll" {
			continue
		}
		polls++
		d, ok := rec["duration"].(float64)
		if !ok || d < 0 || d > 30 {
			t.Errorf("duration=%v (%T), want seconds as a number: %v", rec["duration"], rec["duration"], rec)
		}
		if n, ok := rec["merged"].(float64); ok {
			merged += int(n)
		}
		if w, _ := rec["warning"].(string); strings.Contains(w, "redirected permanently to "+origin.URL+"/solo.xml") {
			warned = true
		}
	}
	if polls != 4 || merged != 2 || !warned {
		t.Errorf("poll lines=%d merged=%d warned=%v, want 4, 2 and the redirect's warning:\n%s", polls, merged, warned, stderr.String())
	}
}

// waitListeningJSON waits for serve's JSON "listening" line on stdout and
// returns its URL.
func waitListeningJSON(t *testing.T, stdout, stderr *apptest.SyncBuffer, done <-chan error) string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		for _, line := range strings.Split(stdout.String(), "\n") {
			var rec struct{ Msg, URL string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" && rec.URL != "" {
				return rec.URL
			}
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited: %v\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no JSON listening line on stdout %q\n%s", stdout.String(), stderr.String())
		}
	}
}

// jsonLines parses every line of out as one JSON object whose keys occur
// once each (encoding/json would silently keep the last of two).
func jsonLines(t *testing.T, name, out string) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if line == "" && out == "" {
			break
		}
		dec := json.NewDecoder(strings.NewReader(line))
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			t.Errorf("%s line %d is not a JSON object: %q", name, i+1, line)
			continue
		}
		rec := map[string]any{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				t.Errorf("%s line %d: %v: %q", name, i+1, err, line)
				break
			}
			key := tok.(string)
			var v any
			if err := dec.Decode(&v); err != nil {
				t.Errorf("%s line %d: %v: %q", name, i+1, err, line)
				break
			}
			if _, dup := rec[key]; dup {
				t.Errorf("%s line %d has %q twice: %s", name, i+1, key, line)
			}
			rec[key] = v
		}
		if _, err := dec.Token(); err != nil || dec.More() {
			t.Errorf("%s line %d: not one JSON object: %q", name, i+1, line)
		}
		recs = append(recs, rec)
	}
	return recs
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

// TestServeJSONFailureIsLogged: serve's reason to stop (here a taken port)
// is a JSON record on stderr, not a plain "aggregator: …" line from main.
func TestServeJSONFailureIsLogged(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	o := newOrigin(t)
	var stdout, stderr bytes.Buffer
	err = run(t.Context(), []string{"serve", "-config", writeConfig(t, o.URL, ""), "-addr", taken.Addr().String(), "-log-format", "json"}, noenv, &stdout, &stderr)
	if err == nil || printed(err) || exitCode(err) != 1 {
		t.Fatalf("err=%v printed=%v, want a logged failure (exit status 1)", err, printed(err))
	}
	recs := jsonLines(t, "stderr", stderr.String())
	last := recs[len(recs)-1]
	if msg, _ := last["err"].(string); last["msg"] != "serve stopped" || last["level"] != "ERROR" || !strings.Contains(msg, "listen tcp "+taken.Addr().String()) {
		t.Errorf("last log line=%v, want the listen error", last)
	}

	// Text logs leave the error to main's line.
	stderr.Reset()
	err = run(t.Context(), []string{"serve", "-config", writeConfig(t, o.URL, ""), "-addr", taken.Addr().String()}, noenv, &stdout, &stderr)
	if err == nil || !printed(err) {
		t.Errorf("text: err=%v printed=%v, want main to print it", err, printed(err))
	}
}
