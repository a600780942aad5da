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
