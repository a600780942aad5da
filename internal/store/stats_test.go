package store

import (
	"strings"
	"testing"

	"github.com/axiomhq/hyperloglog"

	"github.com/kpolicy/aggregator/internal/feed"
)

func sketchBytes(t testing.TB, lo, hi uint64) []byte {
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

// TestMergeSubscriberParts: the one merge rule, part by part.
func TestMergeSubscriberParts(t *testing.T) {
	feedly, ino := FetcherHash("Feedly/1.0 (#)"), FetcherHash("Inoreader (#)")
	parts := []SubscriberPart{
		{Channel: "b", Day: "2026-12-01", Instance: "x", Requests: 1},
		{Channel: "a", Day: "2026-12-02", Instance: "x", Requests: 3, NotModified: 2, Sketch: sketchBytes(t, 0, 3000), Fetchers: map[uint64]int{feedly: 100}},
		{Channel: "a", Day: "2026-12-02", Instance: "y", Requests: 4, Sketch: sketchBytes(t, 1000, 4000), Fetchers: map[uint64]int{feedly: 120, ino: 45}},
		{Channel: "a", Day: "2026-12-02", Requests: 10, Clients: 5, Reported: 7}, // settled before (a file of before parts)
		{Channel: "a", Day: "2026-12-01", Instance: "x", Requests: 2, Sketch: []byte("damaged"), Fetchers: map[uint64]int{ino: 1}},
	}
	days, err := MergeSubscriberParts(parts)
	if err == nil || !strings.Contains(err.Error(), "a 2026-12-01 x") {
		t.Errorf("a damaged sketch: err %v, want one naming its part", err)
	}
	if len(days) != 3 {
		t.Fatalf("days = %+v", days)
	}
	if got, want := days[0], (feed.SubscriberDay{Channel: "a", Day: "2026-12-01", Requests: 2, Reported: 1}); got != want {
		t.Errorf("the day of the damaged sketch = %+v, want %+v (its other counts stand)", got, want)
	}
	d := days[1]
	if d.Channel != "a" || d.Day != "2026-12-02" || d.Requests != 17 || d.NotModified != 2 || d.Reported != 120+45+7 {
		t.Errorf("merged day = %+v", d)
	}
	if c := d.Clients - 5; c < 3960 || c > 4040 { // 4,000 distinct over both instances, within 1%
		t.Errorf("clients %d (+5 settled), want 4,000 ± 1%%", c)
	}
	if days[2].Channel != "b" {
		t.Errorf("order: %+v", days)
	}
	if got, _ := MergeSubscriberParts(nil); len(got) != 0 {
		t.Errorf("no parts: %+v", got)
	}
	// Stored parts are keyed by it: it must never change.
	if got, want := FetcherHash("Feedly/1.0 (#)"), uint64(0x4a8cef63f0e7b118); got != want {
		t.Errorf("FetcherHash = %#x, want %#x (the first 8 bytes of SHA-256)", got, want)
	}
}

// FuzzMergeSubscriberParts: stored sketch bytes, whatever they are, make
// an error or a day, never a panic.
func FuzzMergeSubscriberParts(f *testing.F) {
	f.Add(sketchBytes(f, 0, 10))
	f.Add(sketchBytes(f, 0, 20000))
	f.Add([]byte{2, 14, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0})
	f.Add([]byte{1, 18, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		good := sketchBytes(t, 0, 5)
		days, err := MergeSubscriberParts([]SubscriberPart{
			{Channel: "a", Day: "d", Instance: "x", Requests: 1, Sketch: good},
			{Channel: "a", Day: "d", Instance: "y", Requests: 1, Sketch: b},
		})
		if len(days) != 1 || days[0].Requests != 2 {
			t.Fatalf("days = %+v, %v", days, err)
		}
		if err != nil && days[0].Clients != 5 {
			t.Errorf("a refused sketch changed the clients: %d, want 5", days[0].Clients)
		}
	})
}

// BenchmarkMergeSubscriberParts: a day of three instances with dense
// sketches (20,000 clients each), the worst a live day costs to show.
func BenchmarkMergeSubscriberParts(b *testing.B) {
	parts := []SubscriberPart{
		{Channel: "a", Day: "d", Instance: "x", Sketch: sketchBytes(b, 0, 20000)},
		{Channel: "a", Day: "d", Instance: "y", Sketch: sketchBytes(b, 10000, 30000)},
		{Channel: "a", Day: "d", Instance: "z", Sketch: sketchBytes(b, 20000, 40000)},
	}
	for b.Loop() {
		if _, err := MergeSubscriberParts(parts); err != nil {
			b.Fatal(err)
		}
	}
}
