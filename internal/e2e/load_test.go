package e2e

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// smallOrigin serves /feeds/{n}.rss: three items, the newest changing every
// few seconds, so that polls keep storing and channels keep being rendered.
// It listens on 127.0.0.1 to 127.0.0.16 (all loopback on Linux) and returns
// the sixteen base URLs: the poller goes to one host at a time, so sources
// spread over sixteen hosts are polled sixteen at once, as real ones are.
func smallOrigin(t *testing.T) []string {
	t.Helper()
	start := time.Now()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n int
		if _, err := fmt.Sscanf(r.URL.Path, "/feeds/%d.rss", &n); err != nil {
			http.NotFound(w, r)
			return
		}
		tick := int(time.Since(start) / (3 * time.Second))
		w.Header().Set("Content-Type", "application/rss+xml")
		fmt.Fprintf(w, `<?xml version="1.0"?><rss version="2.0"><channel><title>Source %d</title><link>http://s%d.example/</link><description>d</description>`, n, n)
		for i := tick; i > tick-3; i-- {
			fmt.Fprintf(w, `<item><guid isPermaLink="false">s%d-%d</guid><title>Source %d, story %d</title><description>&lt;p&gt;Story %d of source %d.&lt;/p&gt;</description><pubDate>%s</pubDate></item>`,
				n, i, n, i, i, n, start.Add(time.Duration(i)*time.Second).UTC().Format(time.RFC1123Z))
		}
		fmt.Fprint(w, "</channel></rss>")
	})
	var urls []string
	for i := 1; i <= 16; i++ {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.%d:0", i))
		if err != nil {
			if i == 1 {
				t.Fatal(err)
			}
			break // a system whose loopback is 127.0.0.1 alone
		}
		s := &httptest.Server{Listener: ln, Config: &http.Server{Handler: h}}
		s.Start()
		t.Cleanup(s.Close)
		urls = append(urls, s.URL)
	}
	return urls
}

// loadConfig writes a feeds.yaml of n sources spread over origins, in ten
// channels.
func loadConfig(t *testing.T, dir string, origins []string, n int, extra string) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "server: { listen: \"127.0.0.1:0\", base_url: \"http://aggregator.test\"%s }\nstorage: { path: %q }\n", extra, dir+"/load.db")
	b.WriteString("fetch: { interval: 5s, timeout: 10s, allow_private_networks: true, contact: ops@example.org, concurrency: 16, host_gap: 0s }\nsources:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - { id: s%d, url: \"%s/feeds/%d.rss\", tags: [g%d] }\n", i, origins[i%len(origins)], i, i%10)
	}
	b.WriteString("channels:\n")
	for g := range 10 {
		fmt.Fprintf(&b, "  - { id: c%d, title: Channel %d, tags: [g%d], limit: 50 }\n", g, g, g)
	}
	return writeFile(t, dir, "feeds.yaml", b.String())
}

// rssKiB returns the resident set size and its peak of a process, in MiB,
// from /proc.
func rss(pid int) (now, peak float64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			now = kb / 1024
		case "VmHWM:":
			peak = kb / 1024
		}
	}
	return now, peak
}

var (
	wrkRequests = regexp.MustCompile(`(\d+) requests in`)
	wrkNon2xx   = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	wrkSocket   = regexp.MustCompile(`Socket errors: (.*)`)
)

// TestLoad polls 1,000 sources (250 under -race) while 256 connections of wrk read the
// channels' feeds in every format: every request answered 2xx/3xx, no
// socket error, polls go on, nothing logged as an error, memory bounded,
// and the server alive and stopping cleanly after. 8 seconds by default,
// 60 with AGGREGATOR_LONG=1. Latency is measured by bench/run.
func TestLoad(t *testing.T) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		t.Skip("wrk is not installed (apt-get install -y wrk): skipping the load test")
	}
	duration := 8 * time.Second
	if long() {
		duration = 60 * time.Second
	}
	origin := smallOrigin(t)
	dir := t.TempDir()
	// wrk's 256 connections come from one address.
	p := serve(t, loadConfig(t, dir, origin, loadSources, ", max_connections_per_ip: 512"))
	waitPolls(t, p, loadSources)
	for g := range 10 {
		if n := jsonItems(t, fmt.Sprintf("%s/feeds/c%d.json", p.Base, g)); n == 0 {
			t.Fatalf("channel c%d is empty after the first round of polls", g)
		}
	}
	script := writeFile(t, dir, "paths.lua", `
local paths = {}
for g = 0, 9 do
  for _, ext in ipairs({"atom", "rss", "json"}) do
    paths[#paths + 1] = "/feeds/c" .. g .. "." .. ext
  end
end
paths[#paths + 1] = "/channels/c0"
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
`)
	pollsBefore := len(polls(p.stderr.String()))
	out, err := exec.Command(wrk, "-t2", "-c256", "-d"+strconv.Itoa(int(duration.Seconds()))+"s", "--timeout", wrkTimeout, "-s", script, p.Base).CombinedOutput()
	if err != nil {
		t.Fatalf("wrk: %v\n%s", err, out)
	}
	report := string(out)
	polled := len(polls(p.stderr.String())) - pollsBefore
	rssNow, rssPeak := rss(p.cmd.Process.Pid)
	field := func(re *regexp.Regexp) string {
		if m := re.FindStringSubmatch(report); m != nil {
			return m[1]
		}
		return "?"
	}
	// Latency is a figure, not a behaviour: bench/run reports it.
	t.Logf("%s with 256 connections: %s requests; %d polls during the run; server RSS %.0f MiB, peak %.0f MiB",
		duration, field(wrkRequests), polled, rssNow, rssPeak)
	if limit := maxLoadRSS(); rssPeak > limit {
		t.Errorf("server RSS peaked at %.0f MiB under load, want under %.0f MiB", rssPeak, limit)
	}
	if m := wrkNon2xx.FindStringSubmatch(report); m != nil {
		t.Errorf("%s responses were not 2xx/3xx\n%s", m[1], report)
	}
	if m := wrkSocket.FindStringSubmatch(report); m != nil {
		t.Errorf("socket errors: %s\n%s", m[1], report)
	}
	if n, err := strconv.Atoi(field(wrkRequests)); err != nil || n == 0 {
		t.Errorf("cannot read wrk's report:\n%s", report)
	}
	if polled == 0 {
		t.Error("no poll completed while the server was under load")
	}
	if strings.Contains(p.stderr.String(), "level=ERROR") {
		t.Errorf("errors logged under load:\n%s", grepLines(p.stderr.String(), "level=ERROR"))
	}
	if status, _ := get(t, p.Base+"/healthz"); status != 200 {
		t.Errorf("healthz after the load: %d", status)
	}
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, 40*time.Second); code != 0 {
		t.Errorf("exit code %d after the load", code)
	}
}

// loadSources is the number of sources TestLoad polls: 1,000, or 250
// under the race detector, which polls them five to ten times slower.
var loadSources = map[bool]int{false: 1000, true: 250}[raceEnabled]

// wrkTimeout is how long a request may take before wrk counts it as
// unanswered: the race detector slows the server five to ten times.
var wrkTimeout = map[bool]string{false: "5s", true: "30s"}[raceEnabled]

// maxLoadRSS bounds the server's memory under TestLoad: its sources, ten
// channels of 50 items. It peaks near 75 MiB; the race detector multiplies
// memory by 5 to 10.
func maxLoadRSS() float64 {
	if raceEnabled {
		return 2048
	}
	return 400
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

// TestSlowClients holds 1,000 idle keep-alive connections (from 25
// loopback addresses, 40 each, within server.max_connections_per_ip), 100
// clients that send their headers a byte at a time, and one that pipelines
// requests and never reads an answer, and checks that an ordinary client
// is still served, every time, while they hang. One address asking for
// 200 idle keep-alives gets max_connections_per_ip of them.
func TestSlowClients(t *testing.T) {
	t.Parallel()
	origin := smallOrigin(t)
	dir := t.TempDir()
	p := serve(t, loadConfig(t, dir, origin, 20, ""))
	waitPolls(t, p, 20)
	addr := strings.TrimPrefix(p.Base, "http://")

	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	dialFrom := func(local string) net.Conn {
		d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial from %s after %d connections: %v", local, len(conns), err)
		}
		conns = append(conns, c)
		return c
	}
	n := 0
	dial := func() net.Conn { // a hanging client: 40 to an address
		n++
		return dialFrom(fmt.Sprintf("127.0.1.%d", 1+(n-1)/40))
	}
	idle := func(c net.Conn) error { // one request answered, then silence
		c.SetDeadline(time.Now().Add(10 * time.Second))
		defer c.SetDeadline(time.Time{})
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return err
		}
		return resp.Body.Close()
	}
	// One address, 200 idle keep-alives: past the default 64, each is
	// closed as soon as it is accepted.
	kept := 0
	for range 200 {
		if idle(dialFrom("127.0.2.1")) == nil {
			kept++
		}
	}
	if kept != 64 {
		t.Errorf("one address kept %d idle keep-alives, want server.max_connections_per_ip = 64", kept)
	}
	for range 1000 {
		if err := idle(dial()); err != nil {
			t.Fatalf("idle connection %d: %v", n, err)
		}
	}
	// 100 slowloris clients: half a request line, then nothing.
	for range 100 {
		fmt.Fprintf(dial(), "GET /feeds/c0.atom HTTP/1.1\r\nHo")
	}
	// A reader that asks for much and never reads: the server's writes to
	// it block once the socket buffers are full.
	greedy := dial()
	greedyStart := time.Now()
	go func() {
		req := []byte("GET /feeds/c0.atom HTTP/1.1\r\nHost: x\r\n\r\n")
		for range 5000 {
			if _, err := greedy.Write(req); err != nil {
				return
			}
		}
	}()
	rssNow, _ := rss(p.cmd.Process.Pid)

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	for i := range 50 {
		for _, path := range []string{"/feeds/c0.atom", "/feeds/c1.json", "/", "/healthz"} {
			resp, err := client.Get(p.Base + path)
			if err != nil {
				t.Fatalf("request %d %s while %d connections hang: %v", i, path, len(conns), err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("request %d %s: status %d", i, path, resp.StatusCode)
			}
		}
	}
	t.Logf("%d hanging connections; 200 ordinary requests all answered; server RSS %.0f MiB", len(conns), rssNow)
	slow := conns[200+1000:] // the slowloris clients and the greedy reader
	if !long() {
		return
	}
	// The long variant waits for the server's timeouts to close the
	// slowloris clients (ReadHeaderTimeout, 10 s) and the greedy reader
	// (WriteTimeout, 60 s): each connection is read until the server
	// closes it, for at most 75 s in all.
	start := time.Now()
	deadline := start.Add(75 * time.Second)
	closed := 0
	buf := make([]byte, 1<<16)
	for _, c := range slow {
		if c == greedy {
			// Reading would let the server's writes go on: look only once
			// its WriteTimeout must have passed.
			time.Sleep(time.Until(greedyStart.Add(65 * time.Second)))
		}
		for time.Now().Before(deadline) {
			c.SetReadDeadline(time.Now().Add(time.Second))
			if _, err := c.Read(buf); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					continue // still open
				}
				closed++
				break
			}
		}
	}
	t.Logf("after %v, %d of %d slow connections closed by the server", time.Since(start).Round(time.Second), closed, len(slow))
	if closed != len(slow) {
		t.Errorf("%d slow connections still open after the read-header and write timeouts", len(slow)-closed)
	}
}
