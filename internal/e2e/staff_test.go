package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// staffOrigin serves /good.rss (three items, with an ETag) and /flaky.rss,
// which fails with 500 until fixed.
type staffOrigin struct {
	*httptest.Server
	mu    sync.Mutex
	fixed bool
	flaky int // requests for /flaky.rss
}

const staffRSS = `<?xml version="1.0"?><rss version="2.0"><channel><title>%s</title><link>https://example.org/</link>
<item><title>%s one</title><link>https://example.org/%s/1</link><guid>%s-1</guid><pubDate>Sun, 01 Mar 2026 09:00:00 GMT</pubDate></item>
<item><title>%s two</title><link>https://example.org/%s/2</link><guid>%s-2</guid><pubDate>Mon, 02 Mar 2026 09:00:00 GMT</pubDate></item>
<item><title>%s three</title><link>https://example.org/%s/3</link><guid>%s-3</guid><pubDate>Tue, 03 Mar 2026 09:00:00 GMT</pubDate></item>
</channel></rss>`

func newStaffOrigin(t *testing.T) *staffOrigin {
	o := &staffOrigin{}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/"), ".rss")
		if name == "flaky" {
			o.mu.Lock()
			o.flaky++
			fixed := o.fixed
			o.mu.Unlock()
			if !fixed {
				http.Error(w, "down for maintenance", http.StatusInternalServerError)
				return
			}
		}
		etag := `"` + name + `-v1"`
		w.Header().Set("ETag", etag)
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Type", "application/rss+xml")
		n := []any{name}
		for range 12 {
			n = append(n, name)
		}
		fmt.Fprintf(w, staffRSS, n...)
	}))
	t.Cleanup(o.Close)
	return o
}

func (o *staffOrigin) fix() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.fixed = true
}

func (o *staffOrigin) flakyRequests() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.flaky
}

var minuteStamp = regexp.MustCompile(`\d\d-\d\d \d\d:\d\dZ`)

// sameOutput compares two command outputs with their to-the-minute times
// (last success, next poll) blanked.
func sameOutput(t *testing.T, what, without, beside string) {
	t.Helper()
	a, b := minuteStamp.ReplaceAllString(without, "TIME"), minuteStamp.ReplaceAllString(beside, "TIME")
	if a != b {
		t.Errorf("%s beside serve printed\n%s\nwithout serve it printed\n%s", what, beside, without)
	}
}

// TestStaffToolsBesideServe: fetch SOURCE and preview print beside a
// running serve (asking it over the admin API) what they print without
// it; a restart polls at once the source whose last poll failed; status
// and /status show a rejected reload with its problem.
func TestStaffToolsBesideServe(t *testing.T) {
	t.Parallel()
	o := newStaffOrigin(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "aggregator.db")
	head := fmt.Sprintf(`server: { listen: "127.0.0.1:0", base_url: "http://aggregator.test" }
storage: { path: %q }
fetch: { interval: 1h, timeout: 10s, allow_private_networks: true, contact: "ops@example.org", host_gap: 0s }
sources:
  - { id: good, url: %q }
  - { id: flaky, url: %q }
`, db, o.URL+"/good.rss", o.URL+"/flaky.rss")
	channels := "channels:\n  - { id: all, title: Everything, sources: [good, flaky] }\n"
	cfg := writeFile(t, dir, "feeds.yaml", head+channels+"  - { id: good, title: Good, sources: [good] }\n")
	next := writeFile(t, dir, "next.yaml", head+channels+"  - { id: good, title: Good, sources: [good], exclude: [two] }\n")
	env := []string{"AGGREGATOR_CONFIG=" + cfg, "AGGREGATOR_ADMIN_TOKEN=s3cret"}
	runCmd := func(args ...string) (string, int) {
		t.Helper()
		p := startEnv(t, env, args...)
		code := p.wait(t, 60*time.Second)
		if p.stderr.String() != "" && code == 0 {
			t.Logf("%s: stderr:\n%s", args, p.stderr)
		}
		return p.stdout.String(), code
	}

	// Without serve: every source once (flaky fails), then good again,
	// now answered 304: what a fetch of it prints from then on.
	if out, code := runCmd("fetch", "-config", cfg); code != 1 || !strings.Contains(out, "1 failed") {
		t.Fatalf("first fetch: exit %d, want 1 with flaky failing\n%s", code, out)
	}
	fetchAlone, code := runCmd("fetch", "-config", cfg, "good")
	if code != 0 || !strings.Contains(fetchAlone, "not modified") || strings.Contains(fetchAlone, "flaky") {
		t.Fatalf("fetch good: exit %d\n%s", code, fetchAlone)
	}
	previewAlone, code := runCmd("preview", "good", "-config", next)
	if code != 0 || !strings.Contains(previewAlone, "changes against the running config "+cfg+": 1") {
		t.Fatalf("preview: exit %d\n%s", code, previewAlone)
	}

	// The network problem fixed, serve starts: flaky is polled at once,
	// though its backoff was an hour away; good (polled) waits.
	o.fix()
	before := o.flakyRequests()
	s := serveEnv(t, env, cfg)
	deadline := time.Now().Add(20 * time.Second)
	for o.flakyRequests() == before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if o.flakyRequests() == before {
		t.Fatalf("serve did not retry the failed source at start\n%s", s.stderr)
	}
	addr := strings.TrimPrefix(s.Base, "http://")

	// Beside serve, the same commands print the same, through the server.
	fetchBeside, code := runCmd("fetch", "-config", cfg, "-addr", addr, "good")
	if code != 0 {
		t.Fatalf("fetch good beside serve: exit %d\n%s", code, fetchBeside)
	}
	sameOutput(t, "fetch good", fetchAlone, fetchBeside)
	previewBeside, code := runCmd("preview", "good", "-config", next, "-addr", addr)
	if code != 0 {
		t.Fatalf("preview beside serve: exit %d\n%s", code, previewBeside)
	}
	sameOutput(t, "preview", previewAlone, previewBeside)
	t.Logf("beside serve, fetch good printed\n%s\npreview printed\n%s", fetchBeside, previewBeside)
	if !strings.Contains(s.stderr.String(), "source=good") {
		t.Errorf("serve's log does not show the poll it was asked for:\n%s", s.stderr)
	}

	// Without the token, a clear refusal.
	p := start(t, "fetch", "-config", cfg, "-addr", addr, "good")
	if code := p.wait(t, 30*time.Second); code != 1 || !strings.Contains(p.stderr.String(), "set AGGREGATOR_ADMIN_TOKEN") {
		t.Errorf("fetch beside serve without a token: exit %d\n%s", code, p.stderr)
	}

	// A broken config: serve refuses it and says so on /status and to
	// the status command.
	broken := head + "channels:\n  - { id: all, title: Everything, sources: [good, missing] }\n"
	if err := os.WriteFile(cfg, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	s.signal(t, syscall.SIGHUP)
	var st struct {
		Config struct {
			File     string `json:"file"`
			Rejected *struct {
				Problems []string `json:"problems"`
			} `json:"rejected_reload"`
		} `json:"config"`
	}
	deadline = time.Now().Add(20 * time.Second)
	for st.Config.Rejected == nil && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		if code, body := get(t, s.Base+"/status?format=json"); code == 200 {
			if err := json.Unmarshal(body, &st); err != nil {
				t.Fatal(err)
			}
		}
	}
	wantProblem := cfg + `:8: channels[0].sources[1]: no source has id "missing"`
	if st.Config.Rejected == nil || st.Config.File != cfg || !strings.Contains(strings.Join(st.Config.Rejected.Problems, "\n"), wantProblem) {
		t.Fatalf("/status config %+v, want the rejected reload with %s\n%s", st.Config, wantProblem, s.stderr)
	}
	status, code := runCmd("status", "-config", next, "-addr", addr)
	t.Logf("status printed\n%s", status)
	if code != 0 || !strings.Contains(status, "reload rejected") || !strings.Contains(status, wantProblem) || !strings.Contains(status, "config "+cfg) {
		t.Errorf("status beside serve: exit %d\n%s", code, status)
	}

	s.signal(t, syscall.SIGTERM)
	if code := s.wait(t, 40*time.Second); code != 0 {
		t.Errorf("serve: exit code %d\n%s", code, s.stderr)
	}
}
