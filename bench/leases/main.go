// Command leases measures the poll rate of sources that all answer 304
// with 1, 2 and 3 instances sharing one PostgreSQL store through its
// leases (issue 13's figure). Each instance is a fetch.Poller running
// fetch.Run with its own connection pool and owner id, claiming every
// poll as serve does on PostgreSQL (internal/app/lease.go); they run in
// this process, since a serve's feeds.yaml holds at most 10,000 keys
// (some 4,000 sources). The origin answers every source on -hosts
// loopback addresses, 304 to the ETag it sent; the states are seeded with
// it, so every poll is a 304. Every source's interval is 1 s, the
// shortest there is: every source is always due, and the rate is what
// the instances can do. Run with -db naming a database (a schema is made
// and dropped). It prints the rates and the load average.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kpolicy/aggregator/bench/internal/scratch"
	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/fetch"
	"github.com/kpolicy/aggregator/internal/parse"
	"github.com/kpolicy/aggregator/internal/store"
	"github.com/kpolicy/aggregator/internal/store/postgres"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "leases:", err)
		os.Exit(1)
	}
}

func run() error {
	db := flag.String("db", os.Getenv("AGGREGATOR_TEST_POSTGRES"), "PostgreSQL URL (a schema is made in it and dropped)")
	sources := flag.Int("sources", 10000, "sources, all answering 304")
	hosts := flag.Int("hosts", 100, "loopback hosts (127.0.4.1 …) the sources are spread over")
	counts := flag.String("instances", "0,1,2,3", "instance counts to measure; 0 is one poller without leases (the single-process baseline)")
	window := flag.Duration("duration", 20*time.Second, "measuring window of each count, after the instances' first poll")
	concurrency := flag.Int("concurrency", fetch.DefaultConcurrency, "polls in flight per instance (fetch.concurrency)")
	lease := flag.Duration("lease", 30*time.Second, "fetch.lease")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if *db == "" {
		return fmt.Errorf("-db (or AGGREGATOR_TEST_POSTGRES) is required")
	}
	ctx := context.Background()

	o, err := newOrigin(*hosts)
	if err != nil {
		return err
	}
	defer o.close()
	u, drop, err := scratch.Schema(ctx, *db)
	if err != nil {
		return err
	}
	defer drop()

	var srcs []feed.Source
	for i := range *sources {
		srcs = append(srcs, feed.Source{ID: fmt.Sprintf("n%05d", i), URL: fmt.Sprintf("%s/n/%d", o.urls[i%*hosts], i), Interval: time.Second})
	}
	seed, err := postgres.Open(ctx, u, postgres.Options{})
	if err != nil {
		return err
	}
	start := time.Now()
	now := time.Now()
	for _, s := range srcs {
		st := feed.SourceState{SourceID: s.ID, ConfiguredURL: s.URL, URL: s.URL, ETag: etag, LastStatus: 200,
			LastPoll: now, LastSuccess: now, LastChange: now, NextPoll: now}
		if err := seed.SaveState(ctx, st); err != nil {
			seed.Close()
			return err
		}
	}
	seed.Close()
	fmt.Printf("seeded %d states in %s; %d hosts, concurrency %d per instance, lease %s, window %s\n",
		len(srcs), time.Since(start).Round(time.Millisecond), *hosts, *concurrency, *lease, *window)
	fmt.Printf("%-22s %12s %8s %10s  %s\n", "instances", "sources/s", "polls", "not 304", "load average (start → end)")
	for _, f := range strings.Split(*counts, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 {
			return fmt.Errorf("-instances %q: want counts", *counts)
		}
		rate, polls, other, load0, load1, err := measure(ctx, u, srcs, n, *concurrency, *lease, *window, o)
		if err != nil {
			return err
		}
		name := fmt.Sprintf("%d", n)
		if n == 0 {
			name = "1 (no leases)"
		}
		fmt.Printf("%-22s %12.0f %8d %10d  %s → %s\n", name, rate, polls, other, load0, load1)
	}
	return nil
}

const etag = `"bench"`

// measure runs n instances (0: one without leases) until each has polled
// once, then counts the polls that end within window.
func measure(ctx context.Context, u string, srcs []feed.Source, n, concurrency int, lease, window time.Duration, o *origin) (rate float64, polls int64, other int64, load0, load1 string, err error) {
	instances := max(n, 1)
	var counting atomic.Bool
	var counted, notModified atomic.Int64
	var first sync.WaitGroup
	first.Add(instances)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	var dbs []*postgres.DB
	defer func() {
		stop()
		wg.Wait()
		for _, db := range dbs {
			db.Close()
		}
	}()
	for i := range instances {
		db, err := postgres.Open(ctx, u, postgres.Options{MaxConns: int32(concurrency + 4)})
		if err != nil {
			return 0, 0, 0, "", "", err
		}
		dbs = append(dbs, db)
		var claims fetch.Claims
		if n > 0 {
			claims = leaseClaims{l: db, owner: fmt.Sprintf("bench-%d-%d", n, i), lease: lease}
		}
		var once sync.Once
		client := fetch.NewClient(fetch.Options{AllowPrivate: true, Timeout: 30 * time.Second})
		p := fetch.NewPoller(client, parse.New(), db, fetch.PollerOptions{
			Concurrency: concurrency, Claims: claims, Lease: lease, MaxInterval: time.Hour,
			OnResult: func(r fetch.Result) {
				once.Do(first.Done)
				if counting.Load() {
					counted.Add(1)
					if r.NotModified {
						notModified.Add(1)
					}
				}
			},
		})
		wg.Go(func() { _ = p.Run(runCtx, srcs) })
	}
	first.Wait()
	load0 = scratch.LoadAvg()
	counting.Store(true)
	time.Sleep(window)
	counting.Store(false)
	load1 = scratch.LoadAvg()
	c := counted.Load()
	return float64(c) / window.Seconds(), c, c - notModified.Load(), load0, load1, nil
}

// leaseClaims is internal/app's pollClaims: the store's leases bound to an
// owner and a lease.
type leaseClaims struct {
	l     store.Leases
	owner string
	lease time.Duration
}

func (c leaseClaims) Claim(ctx context.Context, sourceID, host string, seen time.Time) (fetch.Claim, error) {
	r, err := c.l.ClaimPoll(ctx, c.owner, sourceID, host, seen, c.lease, 0)
	return fetch.Claim{Held: r.Held, Wait: r.Wait, NextPoll: r.NextPoll, Host: r.Host}, err
}

func (c leaseClaims) Renew(ctx context.Context, sourceID, host string) error {
	return c.l.RenewPoll(ctx, c.owner, sourceID, host, c.lease)
}

func (c leaseClaims) Release(ctx context.Context, sourceID, host string, next time.Time) error {
	return c.l.ReleasePoll(ctx, c.owner, sourceID, host, next)
}

// origin answers every source 304 to its ETag, on many loopback hosts.
type origin struct {
	urls []string
	srvs []*http.Server
}

func newOrigin(hosts int) (*origin, error) {
	o := &origin{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", etag)
		w.Header().Set("Content-Type", "application/rss+xml")
		fmt.Fprintf(w, `<rss version="2.0"><channel><title>n</title><link>http://x/</link><description>d</description><item><title>t</title><link>%s</link></item></channel></rss>`, r.URL.Path)
	})
	for i := range hosts {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.%d.%d:0", 4+i/250, 1+i%250))
		if err != nil {
			o.close()
			return nil, err
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln)
		o.urls = append(o.urls, "http://"+ln.Addr().String())
		o.srvs = append(o.srvs, srv)
	}
	return o, nil
}

func (o *origin) close() {
	for _, s := range o.srvs {
		s.Close()
	}
}
