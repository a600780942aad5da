package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/kpolicy/aggregator/bench/internal/serve"
)

// runStatic is the plain Go server, the anchor beside nginx for a feed GET,
// a gzip'd GET and a 304: a minimal net/http server that serves the bytes
// the aggregator served (a file and its .gz) with the headers a reader
// needs (Content-Type, ETag, Content-Length, Vary) and answers a matching
// If-None-Match with 304. It is what a Go programmer writes in a few
// lines, so the gap between it and the aggregator is the aggregator's own
// cost, and the gap between it and nginx is net/http's. It listens on
// -addr, prints "ready ADDR", and stops on SIGINT or SIGTERM.
func runStatic(args []string) error {
	fs := flag.NewFlagSet("static", flag.ContinueOnError)
	file := fs.String("file", "", "the document; FILE.gz is its gzip'd form")
	path := fs.String("path", "/feeds/bench.atom", "the URL path it answers")
	ctype := fs.String("type", "application/atom+xml; charset=utf-8", "its Content-Type")
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	body, err := os.ReadFile(*file)
	if err != nil {
		return err
	}
	gz, err := os.ReadFile(*file + ".gz")
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           staticHandler(*path, *ctype, body, gz),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	return serve.UntilSignal(srv, []net.Listener{ln}, func() { fmt.Printf("ready %s\n", ln.Addr()) })
}

// staticHandler serves body at path, gz to a request whose Accept-Encoding
// names gzip, each with its own ETag, and 304 to an If-None-Match naming
// either tag.
func staticHandler(path, ctype string, body, gz []byte) http.Handler {
	tag := `"` + strconv.FormatUint(uint64(len(body)), 16) + `-plain"`
	gzTag := `"` + strconv.FormatUint(uint64(len(body)), 16) + `-gzip"`
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != path {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Vary", "Accept-Encoding")
		if inm := r.Header.Get("If-None-Match"); inm != "" && (strings.Contains(inm, tag) || strings.Contains(inm, gzTag)) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		b, t := body, tag
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			b, t = gz, gzTag
			h.Set("Content-Encoding", "gzip")
		}
		h.Set("Content-Type", ctype)
		h.Set("ETag", t)
		h.Set("Content-Length", strconv.Itoa(len(b)))
		w.Write(b)
	})
}
