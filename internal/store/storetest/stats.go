package storetest

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/axiomhq/hyperloglog"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
)

// sketchOf is the marshalled sketch of the clients lo..hi-1.
func sketchOf(t testing.TB, lo, hi uint64) []byte {
	sk := hyperloglog.New14()
	for i := lo; i < hi; i++ {
		sk.InsertHash(i * 0x9e3779b97f4a7c15)
	}
	b, err := sk.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func partsString(ps []store.SubscriberPart) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "\n  %s/%s/%q req=%d 304=%d clients=%d reported=%d sketch=%d bytes fetchers=%v",
			p.Channel, p.Day, p.Instance, p.Requests, p.NotModified, p.Clients, p.Reported, len(p.Sketch), p.Fetchers)
	}
	return b.String()
}

func samePart(a, b store.SubscriberPart) bool {
	return a.Channel == b.Channel && a.Day == b.Day && a.Instance == b.Instance && a.Requests == b.Requests &&
		a.NotModified == b.NotModified && a.Clients == b.Clients && a.Reported == b.Reported &&
		string(a.Sketch) == string(b.Sketch) && maps.Equal(a.Fetchers, b.Fetchers)
}

// testSubscriberDays: subscriber statistics are parts, one per channel,
// day and instance; two instances' parts of one day are both kept (a
// backend that keys a day by channel and day alone, the last flush
// winning, fails here), an instance's next flush replaces only its own,
// and settling a day leaves one settled part.
func testSubscriberDays(t *testing.T, b Backend) {
	s := open(t, b, Options{Now: fixed})
	a1 := store.SubscriberPart{Channel: "a", Day: "2025-03-01", Instance: "host-1/1/aa", Requests: 3, NotModified: 1,
		Sketch: sketchOf(t, 0, 100), Fetchers: map[uint64]int{store.FetcherHash("Feedly/1.0"): 100}}
	a2 := store.SubscriberPart{Channel: "a", Day: "2025-03-01", Instance: "host-2/1/bb", Requests: 5,
		Sketch: sketchOf(t, 50, 150), Fetchers: map[uint64]int{store.FetcherHash("Feedly/1.0"): 120, store.FetcherHash("Inoreader"): 7}}
	a3 := store.SubscriberPart{Channel: "a", Day: "2025-03-02", Instance: "host-1/1/aa", Requests: 2, Sketch: sketchOf(t, 0, 1)}
	old := store.SubscriberPart{Channel: "a", Day: "2025-03-02", Requests: 10, Clients: 4, Reported: 6} // settled
	b1 := store.SubscriberPart{Channel: "b", Day: "2025-03-01", Instance: "host-1/1/aa", Requests: 1}
	if err := s.SaveSubscriberParts(bg, []store.SubscriberPart{b1, a3, a1, old}); err != nil {
		t.Fatal(err)
	}
	second := s
	if b.Share != nil { // the other instance on its own handle, when the backend has one
		second = b.Share(t, s, Options{Now: fixed})
		defer second.Close()
	}
	if err := second.SaveSubscriberParts(bg, []store.SubscriberPart{a2}); err != nil {
		t.Fatal(err)
	}
	a1.Requests, a1.Fetchers = 4, map[uint64]int{store.FetcherHash("Feedly/1.0"): 100, 1: 1} // its next flush
	if err := s.SaveSubscriberParts(bg, []store.SubscriberPart{a1}); err != nil {
		t.Fatal(err)
	}
	got, err := s.SubscriberParts(bg, "", "")
	if err != nil {
		t.Fatal(err)
	}
	want := []store.SubscriberPart{a1, a2, old, a3, b1}
	if len(got) != len(want) || !slices.EqualFunc(got, want, samePart) {
		t.Fatalf("SubscriberParts =%s\nwant%s", partsString(got), partsString(want))
	}
	if got, _ := s.SubscriberParts(bg, "2025-03-02", "2025-03-02"); len(got) != 2 || !samePart(got[0], old) || !samePart(got[1], a3) {
		t.Errorf("SubscriberParts(03-02) =%s", partsString(got))
	}
	if got, _ := s.SubscriberParts(bg, "", "2025-03-01"); len(got) != 3 || got[2].Channel != "b" {
		t.Errorf("SubscriberParts(to 03-01) =%s", partsString(got))
	}

	days, err := store.MergeSubscriberParts(got)
	if err != nil {
		t.Fatal(err)
	}
	// Clients 0..149 once each; Feedly's largest (120) and Inoreader's 7
	// and the fetcher 1's report.
	wantDay := feed.SubscriberDay{Channel: "a", Day: "2025-03-01", Requests: 9, NotModified: 1, Clients: 150, Reported: 120 + 7 + 1}
	if len(days) != 3 || days[0] != wantDay {
		t.Errorf("merged days = %+v, want first %+v", days, wantDay)
	}

	// Settling 03-01 of a leaves one settled part; the rest stand.
	settled := store.SettledPart(days[0])
	wantCode(t, "SettleSubscriberDays(an instance's part)", s.SettleSubscriberDays(bg, []store.SubscriberPart{settled, a1}), feed.EINVALID)
	if err := s.SettleSubscriberDays(bg, []store.SubscriberPart{settled}); err != nil {
		t.Fatal(err)
	}
	got, err = second.SubscriberParts(bg, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if want := []store.SubscriberPart{settled, old, a3, b1}; !slices.EqualFunc(got, want, samePart) {
		t.Errorf("after settling a 03-01: SubscriberParts =%s\nwant%s", partsString(got), partsString(want))
	}
	if again, err := store.MergeSubscriberParts(got); err != nil || again[0] != wantDay {
		t.Errorf("settled day = %+v, %v; want %+v", again, err, wantDay)
	}

	// Two instances settling one day at once both succeed, and leave one
	// settled part.
	for round := range 5 {
		day := fmt.Sprintf("2025-04-0%d", round+1)
		if err := s.SaveSubscriberParts(bg, []store.SubscriberPart{{Channel: "a", Day: day, Instance: "x", Requests: 1},
			{Channel: "a", Day: day, Instance: "y", Requests: 2}}); err != nil {
			t.Fatal(err)
		}
		sp := store.SubscriberPart{Channel: "a", Day: day, Requests: 3}
		errs := make(chan error, 2)
		for _, h := range []store.Store{s, second} {
			go func() { errs <- h.SettleSubscriberDays(bg, []store.SubscriberPart{sp}) }()
		}
		for range 2 {
			if err := <-errs; err != nil {
				t.Errorf("settling %s from two instances at once: %v", day, err)
			}
		}
		if got, _ := s.SubscriberParts(bg, day, day); len(got) != 1 || !samePart(got[0], sp) {
			t.Errorf("after settling %s twice at once:%s", day, partsString(got))
		}
	}
	if err := s.SettleSubscriberDays(bg, nil); err != nil {
		t.Fatal(err)
	}
	wantParts := 4 + 5

	for name, p := range map[string]store.SubscriberPart{
		"empty channel":        {Day: "2025-03-01"},
		"empty day":            {Channel: "c"},
		"NUL in instance":      {Channel: "c", Day: "2025-03-01", Instance: "a\x00b"},
		"over-long instance":   {Channel: "c", Day: "2025-03-01", Instance: strings.Repeat("i", store.MaxInstance+1)},
		"over-long sketch":     {Channel: "c", Day: "2025-03-01", Sketch: make([]byte, store.MaxSketch+1)},
		"too many fetchers":    {Channel: "c", Day: "2025-03-01", Fetchers: manyFetchers(store.MaxFetchers + 1)},
		"negative requests":    {Channel: "c", Day: "2025-03-01", Requests: -1},
		"negative fetcher":     {Channel: "c", Day: "2025-03-01", Fetchers: map[uint64]int{1: -1}},
		"over-long day":        {Channel: "c", Day: strings.Repeat("2", 65)},
		"over-long channel id": {Channel: strings.Repeat("c", 33<<10), Day: "2025-03-01"},
	} {
		ok := store.SubscriberPart{Channel: "c", Day: "2025-03-01", Instance: "i"}
		wantCode(t, "SaveSubscriberParts("+name+")", s.SaveSubscriberParts(bg, []store.SubscriberPart{ok, p}), feed.EINVALID)
	}
	if got, _ := s.SubscriberParts(bg, "", ""); len(got) != wantParts {
		t.Errorf("a refused SaveSubscriberParts wrote:%s", partsString(got))
	}
	// The bounds themselves are stored.
	full := store.SubscriberPart{Channel: "c", Day: "2025-03-01", Instance: strings.Repeat("i", store.MaxInstance),
		Sketch: sketchOf(t, 0, 20000), Fetchers: manyFetchers(store.MaxFetchers)}
	if len(full.Sketch) > store.MaxSketch {
		t.Fatalf("a dense sketch takes %d bytes, over MaxSketch %d", len(full.Sketch), store.MaxSketch)
	}
	if err := s.SaveSubscriberParts(bg, []store.SubscriberPart{full}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.SubscriberParts(bg, "", ""); len(got) != wantParts+1 || !slices.ContainsFunc(got, func(p store.SubscriberPart) bool { return samePart(p, full) }) {
		t.Errorf("a part at every bound:%s", partsString(got))
	}
}

func manyFetchers(n int) map[uint64]int {
	m := map[uint64]int{}
	for i := range n {
		m[uint64(i)] = i
	}
	return m
}
