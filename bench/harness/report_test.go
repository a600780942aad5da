package main

import (
	"math"
	"testing"
)

func find(t *testing.T, rows []row, prefix string) row {
	t.Helper()
	for _, r := range rows {
		if len(r.Figure) >= len(prefix) && r.Figure[:len(prefix)] == prefix {
			return r
		}
	}
	t.Fatalf("no row %q", prefix)
	return row{}
}

func TestTable(t *testing.T) {
	m := metrics{
		"agg.get.rps": 900, "nginx.get.rps": 1000, "agg.get.p99_ms": 60, "agg.get.p50_ms": 2, "nginx.get.p99_ms": 30,
		"ingest.polled": 1000, "ingest.new": 9000, "ingest.wall_s": 2, "ingest.cpu_s": 3, "ingest.failed": 13,
		"gofeed.items_per_s": 10000, "expect.identities": 9001, "expect.unparsable_sources": 13, "store.items": 9000,
		"cycle.files": 2, "cycle.0.wall_s": 2, "cycle.1.wall_s": 3, "cycle.0.maxrss_kb": 1024, "cycle.1.maxrss_kb": 2048,
		"client.requests": 10000, "client.per_s": 5000,
	}
	rows := table(m)
	if r := find(t, rows, "channel feed GET"); r.Ratio != 0.9 || r.Met != "yes" {
		t.Errorf("GET: ratio %v met %s, want 0.9 yes", r.Ratio, r.Met)
	}
	if r := find(t, rows, "feed GET latency, p99"); r.Value != 60 || r.Ratio != 2 || r.Met != "no" {
		t.Errorf("latency: %v ms ratio %v met %s, want 60 2 no", r.Value, r.Ratio, r.Met)
	}
	if r := find(t, rows, "conditional GET"); !math.IsNaN(r.Value) || r.Met != "-" {
		t.Errorf("304 without metrics: value %v met %s, want NaN -", r.Value, r.Met)
	}
	if r := find(t, rows, "ingest, 1000"); r.Value != 4500 || r.Ratio != 0.45 || r.Met != "no" {
		t.Errorf("ingest: %v items/s ratio %v met %s, want 4500 0.45 no", r.Value, r.Ratio, r.Met)
	}
	if r := find(t, rows, "ingest: items lost"); r.Value != 1 || r.Met != "no" {
		t.Errorf("lost: %v met %s, want 1 no", r.Value, r.Met)
	}
	if r := find(t, rows, "poll cycle, 10,000"); r.Value != 2000 || r.Met != "yes" {
		t.Errorf("cycle: %v sources/s met %s, want 2000 (10,000 over 2+3 s) yes", r.Value, r.Met)
	}
	if r := find(t, rows, "poll cycle: peak RSS"); r.Value != 2 {
		t.Errorf("cycle RSS: %v MB, want 2 (the larger of the runs)", r.Value)
	}
}
