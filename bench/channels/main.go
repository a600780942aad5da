// Command channels measures what serving many channels costs before the
// port listens (issue 16, case 9): it serves -sources synthetic RSS feeds
// of -items items on loopback, stores them with "aggregator fetch", then
// starts "aggregator serve" with -channels channels (each selecting every
// source by tag, limit 50) and reports the time from start to the
// "listening" line, the process's RSS and peak RSS (VmRSS, VmHWM) then,
// the time to the first channel document served (a build that renders
// lazily may answer 503 while it builds what it needs), and RSS again
// after one GET of every channel's Atom document; then it stops serve and
// measures a restart on the same files the same way. It prints "key
// value" lines and removes everything it made.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "channels:", err)
		os.Exit(1)
	}
}

func run() error {
	agg := flag.String("agg", "", "the aggregator binary")
	channels := flag.Int("channels", 1000, "channels")
	sources := flag.Int("sources", 200, "sources")
	items := flag.Int("items", 100, "items per source")
	flag.Parse()
	if *agg == "" {
		return fmt.Errorf("-agg is required")
	}
	dir, err := os.MkdirTemp("", "aggbench-channels-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	origin := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/feed/"), ".xml"))
		w.Header().Set("Content-Type", "application/rss+xml")
		writeFeed(w, n, *items)
	})}
	go origin.Serve(ln)
	defer origin.Close()

	cfg := filepath.Join(dir, "feeds.yaml")
	var b strings.Builder
	fmt.Fprintf(&b, "storage:\n  path: %q\nfetch:\n  allow_private_networks: true\n  concurrency: 16\n  host_gap: 0s\nsources:\n", filepath.Join(dir, "agg.db"))
	for s := range *sources {
		fmt.Fprintf(&b, "  - id: s%d\n    url: \"http://%s/feed/%d.xml\"\n    tags: [all]\n", s, ln.Addr(), s)
	}
	b.WriteString("channels:\n")
	for c := range *channels {
		fmt.Fprintf(&b, "  - id: c%d\n    title: \"Channel %d\"\n    tags: [all]\n", c, c)
	}
	if err := os.WriteFile(cfg, []byte(b.String()), 0o644); err != nil {
		return err
	}
	fetch := exec.Command(*agg, "fetch", "-config", cfg)
	if out, err := fetch.CombinedOutput(); err != nil {
		return fmt.Errorf("fetch: %v\n%s", err, tail(out))
	}

	fmt.Printf("channels.count %d\nchannels.items %d\n", *channels, *sources**items)
	// Twice: the first start after the store was filled (a build that
	// keeps indexes makes them now), then a restart on the same files.
	for _, run := range []string{"first", "restart"} {
		if err := serveOnce(*agg, cfg, run, *channels); err != nil {
			return err
		}
	}
	return nil
}

// serveOnce starts serve, measures, requests every channel's Atom
// document once, measures again and stops it.
func serveOnce(agg, cfg, run string, channels int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	serve := exec.CommandContext(ctx, agg, "serve", "-config", cfg, "-addr", "127.0.0.1:0")
	serve.Stderr = io.Discard
	stdout, err := serve.StdoutPipe()
	if err != nil {
		return err
	}
	start := time.Now()
	if err := serve.Start(); err != nil {
		return err
	}
	defer func() { serve.Process.Signal(os.Interrupt); serve.Wait() }()
	sc := bufio.NewScanner(stdout)
	var addr string
	for sc.Scan() {
		if _, a, ok := strings.Cut(sc.Text(), "listening on http://"); ok {
			addr = a
			break
		}
	}
	if addr == "" {
		return fmt.Errorf("serve never said it was listening")
	}
	go io.Copy(io.Discard, stdout)
	p := "channels." + run + "."
	fmt.Printf("%slisten_s %.2f\n", p, time.Since(start).Seconds())
	report(p+"listen", serve.Process.Pid)
	client := &http.Client{Timeout: time.Minute}
	getStart := time.Now()
	for c := range channels {
		// A channel whose membership index is being built answers 503
		// with Retry-After: the first one waits for it.
		for tries := 0; ; tries++ {
			resp, err := client.Get(fmt.Sprintf("http://%s/feeds/c%d.atom", addr, c))
			if err != nil {
				return err
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusServiceUnavailable && tries < 600 {
				time.Sleep(100 * time.Millisecond)
				continue
			}
			if resp.StatusCode != 200 {
				return fmt.Errorf("GET c%d.atom: %s", c, resp.Status)
			}
			break
		}
		if c == 0 {
			fmt.Printf("%sfirst_served_s %.2f\n", p, time.Since(start).Seconds())
		}
	}
	fmt.Printf("%sget_all_s %.2f\n", p, time.Since(getStart).Seconds())
	report(p+"after_get_all", serve.Process.Pid)
	return nil
}

// report prints the process's VmRSS and VmHWM in MB.
func report(when string, pid int) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		for _, k := range []string{"VmRSS", "VmHWM"} {
			if v, ok := strings.CutPrefix(line, k+":"); ok {
				kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
				fmt.Printf("%s.%s_mb %.1f\n", when, strings.ToLower(k), float64(kb)/1000)
			}
		}
	}
}

func writeFeed(w io.Writer, n, items int) {
	body := strings.Repeat("한반도 뉴스 본문 text of a story. ", 15)
	fmt.Fprintf(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>Source %d</title><link>https://s%d.example/</link>\n", n, n)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range items {
		pub := start.Add(time.Duration(i*1000+n) * time.Minute).Format(time.RFC1123Z)
		fmt.Fprintf(w, "<item><title>Story %d of source %d</title><link>https://s%d.example/%d</link><guid>https://s%d.example/%d</guid><pubDate>%s</pubDate><description>&lt;p&gt;%s&lt;/p&gt;</description></item>\n", i, n, n, i, n, i, pub, body)
	}
	io.WriteString(w, "</channel></rss>\n")
}

func tail(b []byte) []byte {
	if len(b) > 2000 {
		return b[len(b)-2000:]
	}
	return b
}
