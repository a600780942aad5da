package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// runClient is the anchor of the 304 poll cycle and of the refresh of
// unchanged sources: the same URLs requested by a plain net/http client
// with the same concurrency, first unconditionally (untimed, to learn each
// ETag) and then with If-None-Match (timed). Its metrics are named
// NAME.requests, NAME.per_s….
func runClient(args []string) error {
	fs := flag.NewFlagSet("client", flag.ContinueOnError)
	urlsFile := fs.String("urls", "", "file with one URL a line")
	concurrency := fs.Int("concurrency", 8, "requests in flight")
	name := fs.String("name", "client", "metric name prefix")
	if err := fs.Parse(args); err != nil {
		return err
	}
	urls, err := readLines(*urlsFile)
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 20 * time.Second}
	etags := make([]string, len(urls))
	if _, err := pass(client, urls, etags, *concurrency, false); err != nil {
		return err
	}
	start := time.Now()
	nm, err := pass(client, urls, etags, *concurrency, true)
	if err != nil {
		return err
	}
	wall := time.Since(start)
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	n := *name
	fmt.Printf("%s.requests %d\n%s.not_modified %d\n%s.wall_s %.4f\n%s.per_s %.1f\n%s.maxrss_kb %d\n",
		n, len(urls), n, nm, n, wall.Seconds(), n, float64(len(urls))/wall.Seconds(), n, ru.Maxrss)
	return nil
}

// pass GETs every URL, conditionally if cond, and returns how many answered
// 304; it records each response's ETag.
func pass(client *http.Client, urls, etags []string, concurrency int, cond bool) (int64, error) {
	var next, nm atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range concurrency {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(urls) {
					return
				}
				req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, urls[i], nil)
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				if cond && etags[i] != "" {
					req.Header.Set("If-None-Match", etags[i])
				}
				resp, err := client.Do(req)
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				io.Copy(io.Discard, io.LimitReader(resp.Body, 10<<20))
				resp.Body.Close()
				if resp.StatusCode == http.StatusNotModified {
					nm.Add(1)
				}
				etags[i] = resp.Header.Get("ETag")
			}
		})
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return nm.Load(), fmt.Errorf("client: %w", err)
	}
	return nm.Load(), nil
}

func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := sc.Text(); l != "" {
			lines = append(lines, l)
		}
	}
	return lines, sc.Err()
}
