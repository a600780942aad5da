package publish

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Document is one rendered feed document, ready to serve. It is never
// modified after it is made: callers must not change Body.
type Document struct {
	Format Format
	Body   []byte
	// ETag is a strong entity tag, quoted, made from a hash of Body: it
	// changes exactly when the bytes do.
	ETag string
	// LastModified is the newest item's Updated, truncated to seconds
	// (HTTP dates have no fractions); the zero time for a channel without
	// items, which the server then does not announce.
	LastModified time.Time
}

// newDocument renders in as format f.
func newDocument(in Input, f Format) (*Document, error) {
	body, err := Render(in, f)
	if err != nil {
		return nil, err
	}
	d := &Document{Format: f, Body: body, ETag: etag(body)}
	if len(in.Items) > 0 {
		d.LastModified = feedUpdated(in)
	}
	return d, nil
}

// renderAll renders in in every format.
func renderAll(in Input) (map[Format]*Document, error) {
	docs := make(map[Format]*Document, len(Formats))
	for _, f := range Formats {
		d, err := newDocument(in, f)
		if err != nil {
			return nil, err
		}
		docs[f] = d
	}
	return docs, nil
}

// etag is the strong entity tag of body: 128 bits of its SHA-256, quoted.
func etag(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}
