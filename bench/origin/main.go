// Command origin is the benchmark's stand-in for the publishers: it serves
// thousands of feeds built from the shared corpus of real feeds, spread over
// many loopback addresses (127.0.x.y, all local on Linux), and honours
// conditional GET, so the aggregator can be measured without the internet.
//
// Routes, on every address:
//
//	/i/{n}        ingest source n: corpus file n mod 77, made unique to n
//	/n/{n}        304 source n: the smallest corpus file, made unique to n
//	/robots.txt   allows everything
//	/_stats       JSON request counts since start (or since /_stats?reset=1)
//
// It binds only to 127.0.0.0/8 and prints "ready PORT" once every address
// listens; SIGINT or SIGTERM stops it.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kpolicy/aggregator/bench/internal/corpus"
	"github.com/kpolicy/aggregator/bench/internal/serve"
)

// lastModified is the date every body claims; bodies never change.
var lastModified = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

type body struct {
	data []byte
	ct   string
	etag string
}

type origin struct {
	ingest, small  []body
	requests, full atomic.Int64
	notModified    atomic.Int64
	bytes          atomic.Int64
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "origin:", err)
		os.Exit(1)
	}
}

func run() error {
	dir := flag.String("corpus", corpus.Dir("."), "corpus directory (holds real/)")
	hosts := flag.Int("hosts", 1000, "loopback addresses to listen on (127.0.1.1 …)")
	ingest := flag.Int("ingest", 1000, "sources under /i/")
	small := flag.Int("small", 10000, "sources under /n/")
	port := flag.Int("port", 0, "port on every address (0: pick one)")
	flag.Parse()
	if *hosts < 1 || *hosts > 250*254 {
		return fmt.Errorf("-hosts %d: want 1…%d", *hosts, 250*254)
	}
	files, err := corpus.Load(*dir)
	if err != nil {
		return err
	}
	set := corpus.NewSet(files)
	o := &origin{
		ingest: bodies(set, *ingest),
		small:  bodies(set.Only(corpus.Smallest(files)), *small),
	}

	lns, err := listen(*hosts, *port)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           o,
		ReadHeaderTimeout: 10 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	return serve.UntilSignal(srv, lns, func() { fmt.Printf("ready %d\n", lns[0].Addr().(*net.TCPAddr).Port) })
}

func bodies(set *corpus.Set, n int) []body {
	out := make([]body, n)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < n; i += 4 {
				data, ct := set.Body(i)
				out[i] = body{data: data, ct: ct, etag: corpus.ETag(data)}
			}
		})
	}
	wg.Wait()
	return out
}

// listen opens the same port on hosts loopback addresses, picking the port
// on the first address when port is 0 and trying again if another address
// has it taken.
func listen(hosts, port int) ([]net.Listener, error) {
	var lastErr error
	for range 5 {
		lns, err := listenAll(hosts, port)
		if err == nil {
			return lns, nil
		}
		lastErr = err
		if port != 0 {
			break
		}
	}
	return nil, lastErr
}

func listenAll(hosts, port int) ([]net.Listener, error) {
	lns := make([]net.Listener, 0, hosts)
	closeAll := func() {
		for _, ln := range lns {
			ln.Close()
		}
	}
	for h := range hosts {
		ln, err := net.Listen("tcp", net.JoinHostPort(corpus.Host(h), strconv.Itoa(port)))
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("listen: %w", err)
		}
		if h == 0 {
			port = ln.Addr().(*net.TCPAddr).Port
		}
		lns = append(lns, ln)
	}
	return lns, nil
}

func (o *origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.requests.Add(1)
	path := r.URL.Path
	switch {
	case path == "/robots.txt":
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, "User-agent: *\nAllow: /\n")
		return
	case path == "/_stats":
		if r.URL.Query().Get("reset") != "" {
			o.requests.Store(0)
			o.full.Store(0)
			o.notModified.Store(0)
			o.bytes.Store(0)
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]int64{
			"requests": o.requests.Load(), "ok": o.full.Load(),
			"not_modified": o.notModified.Load(), "bytes": o.bytes.Load(),
		})
		return
	}
	var set []body
	switch {
	case len(path) > 3 && path[:3] == "/i/":
		set = o.ingest
	case len(path) > 3 && path[:3] == "/n/":
		set = o.small
	}
	n, err := strconv.Atoi(path[min(len(path), 3):])
	if set == nil || err != nil || n < 0 || n >= len(set) {
		http.NotFound(w, r)
		return
	}
	b := set[n]
	h := w.Header()
	h.Set("ETag", b.etag)
	h.Set("Last-Modified", lastModified.Format(http.TimeFormat))
	if notModified(r, b.etag) {
		o.notModified.Add(1)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", b.ct)
	h.Set("Content-Length", strconv.Itoa(len(b.data)))
	o.full.Add(1)
	o.bytes.Add(int64(len(b.data)))
	w.Write(b.data)
}

// notModified applies RFC 9110's rules: If-None-Match wins over
// If-Modified-Since.
func notModified(r *http.Request, etag string) bool {
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		return inm == etag || inm == "*" || inm == "W/"+etag
	}
	if ims := r.Header.Get("If-Modified-Since"); ims != "" {
		t, err := http.ParseTime(ims)
		return err == nil && !lastModified.After(t)
	}
	return false
}
