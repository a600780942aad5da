package publish

import (
	"bytes"
	"compress/gzip"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestETag(t *testing.T) {
	a, b := etag([]byte("<feed/>")), etag([]byte("<feed/> "))
	for _, e := range []string{a, b} {
		if !strings.HasPrefix(e, `"`) || !strings.HasSuffix(e, `"`) || len(e) != 34 {
			t.Errorf("etag = %s, want a strong quoted tag of 32 hex digits", e)
		}
	}
	if a == b {
		t.Errorf("different bodies share the etag %s", a)
	}
	if again := etag([]byte("<feed/>")); again != a {
		t.Errorf("etag of the same body = %s then %s", a, again)
	}
}

func TestNewDocument(t *testing.T) {
	in := mixedInput()
	for _, f := range Formats {
		d, err := newDocument(in, f, time.Time{}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if d.Format != f || d.ETag != etag(d.Body) || len(d.Body) == 0 {
			t.Errorf("%s: format %q, etag %s for %d bytes", f, d.Format, d.ETag, len(d.Body))
		}
		// The newest Updated is 10:30:00.0000005: HTTP dates have no fraction.
		if got, want := d.LastModified, time.Date(2024, 3, 2, 10, 30, 0, 0, time.UTC); !got.Equal(want) {
			t.Errorf("%s: LastModified = %v, want %v", f, got, want)
		}
	}
	d, err := newDocument(emptyInput(), Atom, time.Time{}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !d.LastModified.IsZero() {
		t.Errorf("LastModified of an empty channel = %v, want zero", d.LastModified)
	}
}

func TestLastModifiedNeverAhead(t *testing.T) {
	in := mixedInput()
	now := in.Items[0].Updated.Add(-time.Hour) // an item dated after now
	d, err := newDocument(in, Atom, time.Time{}, now)
	if err != nil {
		t.Fatal(err)
	}
	if !d.LastModified.Equal(now.Truncate(time.Second)) {
		t.Errorf("LastModified = %v, want no later than the render (%v)", d.LastModified, now)
	}
	changed := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	if d, _ := newDocument(emptyInput(), Atom, changed, changed.Add(time.Hour)); !d.LastModified.Equal(changed) {
		t.Errorf("LastModified of a channel whose last member left = %v, want %v", d.LastModified, changed)
	}
}

// TestGzippedOnceAndLazily checks that a rendered document is not
// compressed at render time, and that concurrent first requests share one
// compression whose bytes decompress to Body.
func TestGzippedOnceAndLazily(t *testing.T) {
	d, err := newDocument(mixedInput(), Atom, time.Time{}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if d.Gzip != nil {
		t.Fatal("the render compressed the document; it should wait for a gzip request")
	}
	var wg sync.WaitGroup
	got := make([][]byte, 8)
	for i := range got {
		wg.Go(func() { got[i] = d.Gzipped() })
	}
	wg.Wait()
	for i := range got {
		if &got[i][0] != &got[0][0] {
			t.Fatalf("call %d compressed again", i)
		}
	}
	zr, err := gzip.NewReader(bytes.NewReader(got[0]))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(plain, d.Body) {
		t.Errorf("gzip does not decompress to Body (err %v, %d vs %d bytes)", err, len(plain), len(d.Body))
	}
}
