package server

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"runtime"
	"testing"
)

func heapAlloc() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestSubscribersBounded is the audit's repro: 5,000 requests with random
// 60 KB User-Agents ending "(1 subscribers)" took the heap from 16 MB to
// 390 MB (313 MB here) and added 5,000 to the reported subscribers.
func TestSubscribersBounded(t *testing.T) {
	subs := NewSubscribers(nil, nil, "")
	before := heapAlloc()
	junk := make([]byte, 30<<10)
	for i := range 5000 {
		rand.Read(junk)
		subs.Record("news", 200, newRequest(fmt.Sprintf("192.0.2.%d:1", i%250), hex.EncodeToString(junk)+" (1 subscribers)"))
	}
	grown := int64(heapAlloc()) - int64(before)
	runtime.KeepAlive(subs)
	d := subs.Today()[0]
	t.Logf("heap grew %.2f MB; reported %d, clients %d", float64(grown)/(1<<20), d.Reported, d.Clients)
	if grown > 4<<20 {
		t.Errorf("heap grew %d bytes for one channel's day, want under 4 MB", grown)
	}
	if len(subs.agents) > maxAgents {
		t.Errorf("%d User-Agents' readings kept, want at most %d", len(subs.agents), maxAgents)
	}
	if d.Reported != 0 {
		t.Errorf("reported %d: a count past the first %d bytes of a User-Agent is not read", d.Reported, maxUserAgent)
	}
	if d.Clients < 4900 || d.Clients > 5100 {
		t.Errorf("clients %d, want 5,000 ± 2%%", d.Clients)
	}
}

// TestSubscribersReportedBounded: a flood of small claims from distinct
// fetchers keeps at most maxFetchers of them and cannot push out a real
// aggregator's count; one claim counts at most maxReported.
func TestSubscribersReportedBounded(t *testing.T) {
	subs := NewSubscribers(nil, nil, "")
	subs.Record("news", 200, newRequest("192.0.2.9:1", "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 125 subscribers; )"))
	for i := range 5000 {
		subs.Record("news", 200, newRequest("198.51.100.1:1", fmt.Sprintf("Reader-%d (1 subscribers)", i)))
	}
	if got, want := subs.Today()[0].Reported, 125+maxFetchers-1; got != want {
		t.Errorf("after a flood: reported %d, want %d (Feedly and the %d largest of the rest)", got, want, maxFetchers-1)
	}
	subs.Record("other", 200, newRequest("198.51.100.1:1", "Liar (999999999 subscribers)"))
	for _, d := range subs.Today() {
		if d.Channel == "other" && d.Reported != maxReported {
			t.Errorf("one claim of 999,999,999: reported %d, want %d", d.Reported, maxReported)
		}
	}
}
