package fetch

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/andybalholm/brotli"
)

const rssBody = `<?xml version="1.0"?><rss version="2.0"><channel><title>압축</title><item><title>한반도</title></item></channel></rss>`

func compress(t *testing.T, enc string, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	switch enc {
	case "br":
		w := brotli.NewWriterLevel(&buf, 5)
		w.Write(b)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	case "gzip":
		w := gzip.NewWriter(&buf)
		w.Write(b)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func TestGetDecodesBrotliAndGzip(t *testing.T) {
	for _, enc := range []string{"br", "gzip"} {
		t.Run(enc, func(t *testing.T) {
			body := compress(t, enc, []byte(rssBody))
			o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
				if got, want := r.Header.Get("Accept-Encoding"), "br, gzip"; got != want {
					t.Errorf("Accept-Encoding=%q, want %q", got, want)
				}
				w.Header().Set("Content-Encoding", enc)
				w.Header().Set("Content-Type", "application/rss+xml")
				w.Write(body)
			})
			resp, err := testClient(t, Options{}).Get(t.Context(), Request{URL: o.URL})
			if err != nil {
				t.Fatal(err)
			}
			if string(resp.Body) != rssBody {
				t.Errorf("body=%q, want the decoded feed", resp.Body)
			}
			if ce := resp.Header.Get("Content-Encoding"); ce != "" {
				t.Errorf("Content-Encoding=%q left on a decoded response", ce)
			}
		})
	}
}

func TestGetRefusesBadCompressedBodies(t *testing.T) {
	bigRandom := make([]byte, 3000) // random bytes do not compress
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range bigRandom {
		bigRandom[i] = byte(rng.Uint32())
	}
	if n := len(compress(t, "br", bigRandom)); n <= 3001 {
		t.Fatalf("%d random bytes compress to %d", len(bigRandom), n)
	}
	tests := []struct {
		name, enc string
		body      []byte
		max       int64
		want      string
	}{
		{"corrupt brotli", "br", []byte("\xff\xff\xff\xffnot brotli at all"), 0, "read body: "},
		{"corrupt gzip", "gzip", []byte("not gzip"), 0, "read body: gzip: "},
		// Decoded it fits; compressed (with brotli's framing) it does not.
		{"compressed body over the cap", "br", compress(t, "br", bigRandom), 3001, "response body too large: compressed body exceeds 3001 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Encoding", tt.enc)
				w.(http.Flusher).Flush() // chunked: no Content-Length to refuse up front
				w.Write(tt.body)
			})
			_, err := testClient(t, Options{MaxBody: tt.max}).Get(t.Context(), Request{URL: o.URL})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err=%v, want it to say %q", err, tt.want)
			}
		})
	}
}

// TestGetBrotliBombIsBounded: a few hundred bytes of brotli that inflate
// to 128 MiB stop at the cap, having allocated a few times the cap, in a
// bounded time (the decoder is stopped, not drained).
func TestGetBrotliBombIsBounded(t *testing.T) {
	const max = 1 << 20
	var buf bytes.Buffer
	w := brotli.NewWriterLevel(&buf, 5)
	zeros := make([]byte, 1<<20)
	for range 128 {
		w.Write(zeros)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	bomb := buf.Bytes()
	o := newOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "br")
		w.Header().Set("Content-Type", "application/rss+xml")
		w.Write(bomb)
	})
	c := testClient(t, Options{MaxBody: max})

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	peak := heapPeak()
	start := time.Now()
	_, err := c.Get(t.Context(), Request{URL: o.URL})
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	peakMiB := peak()

	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "body too large") {
		t.Fatalf("err=%v, want ErrTooLarge", err)
	}
	// Reading to the end would allocate 128 MiB and more; stopping at the
	// cap allocates ReadAll's growth and the decoder's window.
	if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(32<<20); got > limit {
		t.Fatalf("allocated %d bytes while reading a bomb, want at most %d", got, limit)
	}
	t.Logf("brotli bomb: %d bytes inflating to 128 MiB; stopped at the %d-byte cap in %v, allocating %.1f MiB; heap %.1f MiB before, peak %.1f MiB",
		len(bomb), max, took.Round(time.Millisecond), float64(after.TotalAlloc-before.TotalAlloc)/(1<<20), float64(before.HeapAlloc)/(1<<20), peakMiB)
}

// heapPeak samples the heap until stop is called and returns the highest
// HeapAlloc seen, in MiB.
func heapPeak() (stop func() float64) {
	var mu sync.Mutex
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			mu.Lock()
			peak = max(peak, m.HeapAlloc)
			mu.Unlock()
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
		}
	})
	return func() float64 {
		close(done)
		wg.Wait()
		return float64(peak) / (1 << 20)
	}
}

// TestReadAll: the body whole, whatever the size it said, and the
// reader's error when it fails.
func TestReadAll(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789"), 30_000) // 300,000 bytes
	for _, tt := range []struct {
		name string
		said int64
		r    io.Reader
		want []byte
	}{
		{"its size", int64(len(body)), bytes.NewReader(body), body},
		{"its size, one byte a read", int64(len(body)), iotest.OneByteReader(bytes.NewReader(body)), body},
		{"no size", -1, bytes.NewReader(body), body},
		{"less than it is", 1000, bytes.NewReader(body), body},
		{"more than maxPresize", 4 * maxPresize, bytes.NewReader(body), body},
		{"empty", 0, bytes.NewReader(nil), nil},
	} {
		got, err := readAll(tt.r, tt.said)
		if err != nil || !bytes.Equal(got, tt.want) {
			t.Errorf("%s: %d bytes, %v; want %d, nil", tt.name, len(got), err, len(tt.want))
		}
		if tt.said > maxPresize && cap(got) > maxPresize+1 {
			t.Errorf("%s: %d bytes allocated for a %d-byte body, want at most maxPresize+1 before the bytes come", tt.name, cap(got), len(got))
		}
	}
	// A body of the size it said is read into one allocation.
	r := bytes.NewReader(body)
	if n := testing.AllocsPerRun(10, func() {
		r.Reset(body)
		readAll(r, int64(len(body)))
	}); n != 1 {
		t.Errorf("a body of the size it said: %v allocations, want 1", n)
	}
	half := io.MultiReader(bytes.NewReader(body[:1000]), iotest.ErrReader(io.ErrUnexpectedEOF))
	if got, err := readAll(half, int64(len(body))); !errors.Is(err, io.ErrUnexpectedEOF) || len(got) != 1000 {
		t.Errorf("a body cut short: %d bytes, %v; want 1000 and io.ErrUnexpectedEOF", len(got), err)
	}
}

// BenchmarkGetBody: one GET of a 300 KB feed that says its length, as
// the bench's origin and most servers of an uncompressed feed send it.
func BenchmarkGetBody(b *testing.B) {
	body := bytes.Repeat([]byte("<item>0123456789</item>"), 13_000)
	o := newOrigin(b, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	})
	c := testClient(b, Options{})
	b.ReportAllocs()
	for b.Loop() {
		resp, err := c.Get(b.Context(), Request{URL: o.URL})
		if err != nil || len(resp.Body) != len(body) {
			b.Fatalf("%v, %d bytes", err, len(resp.Body))
		}
	}
}
