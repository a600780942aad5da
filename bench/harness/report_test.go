package main

import (
	"math"
	"os"
	"strings"
	"testing"
)

func find(t *testing.T, rows []row, prefix string) row {
	t.Helper()
	for _, r := range rows {
		if strings.HasPrefix(r.Figure, prefix) {
			return r
		}
	}
	t.Fatalf("no row %q", prefix)
	return row{}
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestTable(t *testing.T) {
	m := metrics{
		"agg.get.rps": 900, "nginx.get.rps": 1000, "plain.get.rps": 450, "agg.get.p99_ms": 60, "agg.get.p50_ms": 2, "nginx.get.p99_ms": 30,
		"serve.catch_up_s": 95, "serve.idle_wait_s": 7, "agg.304.rps": 800, "agg.304.rounds": 3, "agg.304.rps_lo": 700, "agg.304.rps_hi": 850, "plain.304.rps": 1000, "plain.304.rps_lo": 990, "plain.304.rps_hi": 1100, "nginx.304.rps": 2000, "agg.304.status": 304,
		"agg.gzip.rps": 950, "nginx.gzip.rps": 1000, "plain.gzip.rps": 1900, "agg.gzip.encoded": 1, "agg.gzip.bad": 3,
		"search.connections": 16, "search.p99_ms": 40, "search.p50_ms": 9, "search.rps": 500, "search.bad": 2,
		"ingest.polled": 1000, "ingest.new": 9000, "ingest.wall_s": 2, "ingest.cpu_s": 3, "ingest.failed": 13,
		"gofeed.items_per_s": 10000, "expect.identities": 9001, "expect.unparsable_sources": 13, "store.items": 9000,
		"refresh.polled": 1000, "refresh.wall_s": 0.5, "refresh.cpu_s": 0.4, "refresh.not_modified": 987, "refresh_client.per_s": 4000,
		"cycle.files": 2, "cycle.0.wall_s": 2, "cycle.1.wall_s": 3, "cycle.0.maxrss_kb": 1024, "cycle.1.maxrss_kb": 2048,
		"client.requests": 10000, "client.per_s": 5000,
		"serve.maxrss_kb": 150 * 1024, "serve.anon_kb": 60 * 1024, "serve.file_kb": 95 * 1024, "serve.poll_s": 20,
	}
	rows := table(m)
	t.Run("GET against nginx, and the plain Go server beside it", func(t *testing.T) {
		r := find(t, rows, "channel feed GET")
		if !near(r.Ratio, 0.9) || r.Met != "yes" || !near(r.AlsoRatio, 2) || r.AlsoValue != 450 {
			t.Errorf("GET: ratio %v met %s, plain Go %v ratio %v; want 0.9 yes, 450 2", r.Ratio, r.Met, r.AlsoValue, r.AlsoRatio)
		}
		if !strings.Contains(r.Note, "95 s") || !strings.Contains(r.Note, "idle, 7 s later") {
			t.Errorf("GET note %q does not say when serving caught up and went idle", r.Note)
		}
	})
	if r := find(t, rows, "feed GET latency, p99"); r.Value != 60 || r.Ratio != 2 || r.Met != "no" {
		t.Errorf("latency: %v ms ratio %v met %s, want 60 2 no", r.Value, r.Ratio, r.Met)
	}
	t.Run("304 against the plain Go server", func(t *testing.T) {
		r := find(t, rows, "conditional GET")
		if !near(r.Ratio, 0.8) || r.Met != "no" || !near(r.AlsoRatio, 0.4) {
			t.Errorf("304: ratio %v met %s, nginx ratio %v; want 0.8 no, 0.4", r.Ratio, r.Met, r.AlsoRatio)
		}
		if !strings.Contains(r.Note, "median of 3 rounds, 700-850 (plain 990-1100)") {
			t.Errorf("304 note %q does not give the rounds' spread, ours and the anchor's", r.Note)
		}
	})
	t.Run("a ratio met with bad responses is not met", func(t *testing.T) {
		r := find(t, rows, "gzip'd feed GET")
		if !near(r.Ratio, 0.95) || r.Met != "no" || !strings.Contains(r.Note, "3 responses") {
			t.Errorf("gzip: ratio %v met %s note %q; want 0.95 no, the 3 bad responses named", r.Ratio, r.Met, r.Note)
		}
	})
	t.Run("search under 50 ms with busy answers is not met", func(t *testing.T) {
		r := find(t, rows, "search under load, 16 connections")
		if r.Value != 40 || r.Met != "no" || !strings.Contains(r.Note, "p50 9.00 ms") {
			t.Errorf("search: %v ms met %s note %q; want 40 no, p50 named", r.Value, r.Met, r.Note)
		}
	})
	if r := find(t, rows, "ingest, 1000"); r.Value != 4500 || r.Ratio != 0.45 || r.Met != "yes" || r.Peers == "" {
		t.Errorf("ingest: %v items/s ratio %v met %s peers %q, want 4500 0.45 yes (goal 0.3×), peers named", r.Value, r.Ratio, r.Met, r.Peers)
	}
	if r := find(t, rows, "ingest: items lost"); r.Value != 1 || r.Met != "no" {
		t.Errorf("lost: %v met %s, want 1 no", r.Value, r.Met)
	}
	if r := find(t, rows, "refresh, 1000 unchanged"); r.Value != 2000 || r.Ratio != 0.5 || r.Met != "no" {
		t.Errorf("refresh: %v sources/s ratio %v met %s, want 2000 (1,000 in 0.5 s) 0.5 no (goal 2,500/s)", r.Value, r.Ratio, r.Met)
	}
	if r := find(t, rows, "poll cycle, 10,000"); r.Value != 2000 || r.Met != "yes" {
		t.Errorf("cycle: %v sources/s met %s, want 2000 (10,000 over 2+3 s) yes", r.Value, r.Met)
	}
	if r := find(t, rows, "poll cycle: peak RSS"); r.Value != 2 {
		t.Errorf("cycle RSS: %v MiB, want 2 (the larger of the runs)", r.Value)
	}
	t.Run("peak RSS split into anonymous and file-backed", func(t *testing.T) {
		r := find(t, rows, "peak RSS serving")
		if r.Value != 150 || r.Met != "no" || !strings.Contains(r.Note, "60 MiB anonymous, 95 MiB file-backed") {
			t.Errorf("RSS: %v MiB met %s note %q; want 150 no, 60 anonymous 95 file-backed", r.Value, r.Met, r.Note)
		}
	})
	t.Run("unmeasured figures are not met, nor ratios made up", func(t *testing.T) {
		rows := table(metrics{"nginx.get.rps": 1000})
		for _, r := range rows {
			if !math.IsNaN(r.Value) || r.Met != "-" || r.Ratio != 0 {
				t.Errorf("%s without metrics: value %v ratio %v met %s, want NaN 0 -", r.Figure, r.Value, r.Ratio, r.Met)
			}
		}
	})
}

func TestPrintTable(t *testing.T) {
	var b strings.Builder
	rows := table(metrics{"agg.get.rps": 900, "nginx.get.rps": 1000, "plain.get.rps": 450})
	if err := printTable(&b, rows); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"900 req/s", "1000 req/s nginx", "0.90×", "450 req/s plain Go server", "2.00×", "yarr 62 MiB"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}

func TestReadStatus(t *testing.T) {
	path := t.TempDir() + "/status"
	const status = "Name:\taggregator\nVmPeak:\t 2000000 kB\nVmHWM:\t  440000 kB\nVmRSS:\t  400000 kB\nRssAnon:\t  190000 kB\nRssFile:\t  209000 kB\nRssShmem:\t    1000 kB\n"
	if err := writeFile(path, status); err != nil {
		t.Fatal(err)
	}
	m, err := readStatus(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := (memory{HWM: 440000, Anon: 190000, File: 209000, Shmem: 1000}); m != want {
		t.Errorf("readStatus = %+v, want %+v", m, want)
	}
	var p peaks
	p.add(memory{HWM: 100, Anon: 80, File: 10})
	p.add(memory{HWM: 120, Anon: 50, File: 60})
	if want := (memory{HWM: 120, Anon: 80, File: 60}); p.memory != want || p.samples != 2 {
		t.Errorf("peaks = %+v (%d samples), want %+v (2): each part's own peak", p.memory, p.samples, want)
	}
}

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o644) }
