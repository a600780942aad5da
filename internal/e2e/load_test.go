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
	wrkP99      = regexp.MustCompile(`(?m)^\s+99%\s+(\S+)`)
	wrkP50      = regexp.MustCompile(`(?m)^\s+50%\s+(\S+)`)
	wrkRequests = regexp.MustCompile(`(\d+) requests in`)
	wrkRate     = regexp.MustCompile(`Requests/sec:\s+(\S+)`)
	wrkNon2xx   = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	wrkSocket   = regexp.MustCompile(`Socket errors: (.*)`)
)

// TestLoad polls 1,000 sources while 256 connections of wrk read the
// channels' feeds in every format: no errors, and the latency percentiles
// and memory are reported. 8 seconds by default, 60 with AGGREGATOR_LONG=1.
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
	p := serve(t, loadConfig(t, dir, origin, 1000, ""))
	waitPolls(t, p, 1000)
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
	out, err := exec.Command(wrk, "-t2", "-c256", "-d"+strconv.Itoa(int(duration.Seconds()))+"s", "--timeout", "5s", "--latency", "-s", script, p.Base).CombinedOutput()
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
	t.Logf("%s with 256 connections: %s requests (%s/s), p50 %s, p99 %s (goal < 50ms); %d polls during the run; server RSS %.0f MiB, peak %.0f MiB",
		duration, field(wrkRequests), field(wrkRate), field(wrkP50), field(wrkP99), polled, rssNow, rssPeak)
	if m := wrkNon2xx.FindStringSubmatch(report); m != nil {
		t.Errorf("%s responses were not 2xx/3xx\n%s", m[1], report)
	}
	if m := wrkSocket.FindStringSubmatch(report); m != nil {
		t.Errorf("socket errors: %s\n%s", m[1], report)
	}
	if field(wrkRequests) == "?" || field(wrkP99) == "?" {
		t.Errorf("cannot read wrk's report:\n%s", report)
	}
	if polled == 0 {
		t.Error("no poll completed while the server was under load")
	}
	if strings.Contains(p.stderr.String(), "level=ERROR") {
		t.Errorf("errors logged under load:\n%s", grepLines(p.stderr.String(), "level=ERROR"))
	}
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, 40*time.Second); code != 0 {
		t.Errorf("exit code %d after the load", code)
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

// TestSlowClients holds 1,000 idle keep-alive connections, 100 clients
// that send their headers a byte at a time, and one that pipelines requests
// and never reads an answer, and checks that an ordinary client is still
// served, every time, while they hang.
func TestSlowClients(t *testing.T) {
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
	dial := func() net.Conn {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("dial after %d connections: %v", len(conns), err)
		}
		conns = append(conns, c)
		return c
	}
	// 1,000 idle keep-alive connections: one request answered, then silence.
	for range 1000 {
		c := dial()
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("idle connection %d: %v", len(conns), err)
		}
		resp.Body.Close()
	}
	// 100 slowloris clients: half a request line, then nothing.
	for range 100 {
		fmt.Fprintf(dial(), "GET /feeds/c0.atom HTTP/1.1\r\nHo")
	}
	// A reader that asks for much and never reads: the server's writes to
	// it block once the socket buffers are full.
	greedy := dial()
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
	if !long() {
		return
	}
	// The long variant waits for the server's timeouts to close the
	// slowloris clients (ReadHeaderTimeout) and the greedy reader
	// (WriteTimeout).
	time.Sleep(75 * time.Second)
	closed := 0
	for _, c := range conns[1000:] {
		c.SetReadDeadline(time.Now().Add(time.Second))
		buf := make([]byte, 1<<16)
		for {
			if _, err := c.Read(buf); err != nil {
				if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
					closed++
				}
				break
			}
		}
	}
	t.Logf("after 75s, %d of %d slow connections closed by the server", closed, len(conns)-1000)
	if closed != len(conns)-1000 {
		t.Errorf("%d slow connections still open after the read-header and write timeouts", len(conns)-1000-closed)
	}
}
