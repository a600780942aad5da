package fetch

import (
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/andybalholm/brotli"
)

// decoder returns a reader of h's body with its Content-Encoding undone:
// gzip (or x-gzip) and br, the encodings the client offers. Any other
// value (absent, "identity", or one we did not ask for) leaves the body as
// it came, as Go's transport does. Compressed bytes are held to max:
// reading more fails with ErrTooLarge. Decoding removes the
// Content-Encoding and Content-Length headers from the response, as the
// transport does.
func decoder(h *http.Response, max int64) (io.Reader, error) {
	raw := &wireLimit{r: h.Body, left: max, max: max}
	var r io.Reader
	switch strings.ToLower(strings.TrimSpace(h.Header.Get("Content-Encoding"))) {
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(raw)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		r = zr
	case "br":
		r = brotli.NewReader(raw)
	default:
		return h.Body, nil
	}
	h.Header.Del("Content-Encoding")
	h.Header.Del("Content-Length")
	h.ContentLength = -1 // the length said is the encoded one's
	return r, nil
}

// wireLimit reads at most left bytes from r and fails with ErrTooLarge
// after them, so a compressed body that is itself too large stops there.
type wireLimit struct {
	r    io.Reader
	left int64
	max  int64
}

func (w *wireLimit) Read(p []byte) (int, error) {
	if w.left <= 0 {
		// One byte more tells a body of exactly max from a longer one.
		var one [1]byte
		n, err := w.r.Read(one[:])
		if n > 0 {
			return 0, fmt.Errorf("%w: compressed body exceeds %d bytes", ErrTooLarge, w.max)
		}
		return 0, err
	}
	if int64(len(p)) > w.left {
		p = p[:w.left]
	}
	n, err := w.r.Read(p)
	w.left -= int64(n)
	return n, err
}

// maxPresize caps readAll's first allocation: a server that says a large
// Content-Length and sends nothing holds no more than this of a poll's.
const maxPresize = 1 << 20

// readAll is io.ReadAll for a body that says its size (size >= 0, at
// most maxPresize of it allocated before it arrives): one allocation of
// size+1 bytes, the one more to see the end without growing, where
// io.ReadAll grows from 512 bytes by doubling, zeroing and copying as it
// goes: BenchmarkGetBody, a 300 KB feed, 680 -> 312 KB and 680 -> 290 µs
// a GET (bench/RESULTS.md, issue 17, round 12). A body longer than it
// said still reads whole.
func readAll(r io.Reader, size int64) ([]byte, error) {
	if size < 0 {
		return io.ReadAll(r)
	}
	b := make([]byte, 0, min(size, maxPresize)+1)
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // more than it said: grow as append does
		}
	}
}
