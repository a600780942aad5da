package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mmcdole/gofeed/atom"

	"github.com/kpolicy/aggregator/internal/app/apptest"
)

// testdata is the service's fixtures, which the command's tests share.
const testdata = "../../internal/app/testdata"

// origin serves the files of testdata on loopback and counts the requests
// per path.
type origin struct {
	*httptest.Server
	*apptest.Files
}

func newOrigin(t *testing.T) *origin {
	t.Helper()
	f := apptest.NewFiles(testdata)
	o := &origin{Server: httptest.NewServer(f), Files: f}
	t.Cleanup(o.Close)
	return o
}

// writeConfig writes a feeds.yaml for two sources of the origin and returns its path.
func writeConfig(t *testing.T, originURL, extra string) string {
	t.Helper()
	cfg := fmt.Sprintf(`server: { listen: "127.0.0.1:0", base_url: "http://aggregator.test" }
storage: { path: %q }
fetch: { interval: 1h, timeout: 5s, allow_private_networks: true, host_gap: 0s }
sources:
  - { id: kei-peninsula, url: %q, title: "The Peninsula (KEI)", tags: [think-tank] }
  - { id: 38north, url: %q, title: "38 North", tags: [think-tank, north-korea] }
%s
channels:
  - { id: the-peninsula, title: The Peninsula, description: "KEI's blog", sources: [kei-peninsula] }
  - { id: think-tanks, title: Think tanks, description: "Everything from think tanks", tags: [think-tank] }
`, filepath.Join(t.TempDir(), "db", "aggregator.db"), originURL+"/peninsula.rss", originURL+"/northkorea.atom", extra)
	path := filepath.Join(t.TempDir(), "feeds.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func noenv(string) string { return "" }

// startServe runs "aggregator serve" in-process and returns its base URL and
// a function that stops it and returns run's error.
func startServe(t *testing.T, args ...string) (string, func() error) {
	t.Helper()
	base, _, stop := startServeLogged(t, args...)
	return base, stop
}

// startServeLogged is startServe that also hands back the log.
func startServeLogged(t *testing.T, args ...string) (string, *apptest.SyncBuffer, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	stderr := &apptest.SyncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"serve"}, args...), noenv, pw, stderr)
		pw.Close()
	}()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if _, a, ok := strings.Cut(sc.Text(), "listening on "); ok {
				addr <- a
			}
		}
	}()
	var base string
	select {
	case base = <-addr:
	case err := <-done:
		cancel()
		t.Fatalf("serve exited early: %v\n%s", err, stderr.String())
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatalf("serve did not report its address\n%s", stderr.String())
	}
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(40 * time.Second):
			return fmt.Errorf("serve did not stop\n%s", stderr.String())
		}
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return base, stderr, stop
}

// get and waitForItems are apptest's, which reach loopback servers too.
var (
	get          = apptest.Get
	waitForItems = apptest.WaitForItems
)

// TestServeEndToEnd runs "aggregator serve" as main does, on a port of its
// own, against an origin on loopback: it says where it listens, serves
// over TCP what its polls stored, and returns nil on shutdown. What the
// service serves is internal/app's tests' business.
func TestServeEndToEnd(t *testing.T) {
	o := newOrigin(t)
	base, stop := startServe(t, "-config", writeConfig(t, o.URL, ""))
	waitForItems(t, base, "think-tanks", 3)
	resp, body := get(t, base+"/feeds/think-tanks.atom")
	if got, want := resp.Header.Get("Content-Type"), "application/atom+xml; charset=utf-8"; got != want {
		t.Errorf("Content-Type=%q, want %q", got, want)
	}
	f, err := (&atom.Parser{}).Parse(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse atom: %v\n%s", err, body)
	}
	if got, want := len(f.Entries), 3; got != want {
		t.Errorf("entries=%d, want %d", got, want)
	}
	if resp, _ := get(t, base+"/healthz"); resp.StatusCode != 200 {
		t.Errorf("healthz %d", resp.StatusCode)
	}
	// One unconditional poll per source: nothing is due again within the hour.
	if got := o.Count("/peninsula.rss"); got != 1 {
		t.Errorf("origin saw %d requests for /peninsula.rss, want 1", got)
	}
	if err := stop(); err != nil {
		t.Fatalf("serve returned %v, want nil on shutdown", err)
	}
}

// TestServeRefusesTakenPort: a port another process holds is an error at
// start, before anything runs.
func TestServeRefusesTakenPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	o := newOrigin(t)
	var stdout, stderr bytes.Buffer
	err = run(t.Context(), []string{"serve", "-config", writeConfig(t, o.URL, ""), "-addr", ln.Addr().String()}, noenv, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "listen: ") {
		t.Errorf("serve on a taken port: %v, want a listen error", err)
	}
	if o.Count("/peninsula.rss") != 0 || stdout.Len() != 0 {
		t.Errorf("serve polled %d times and said %q before failing", o.Count("/peninsula.rss"), stdout.String())
	}
}
