package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/klauspost/compress/flate"
	"io"
	"sync"
)

// An item record is stored in one of two forms, told apart by its first
// byte:
//
//   - '{': the item's JSON (itemRecord), as every store before issue 17
//     wrote it, and still the form of a record that compression would not
//     make smaller;
//   - formDeflate (1): the length of that JSON as a uvarint, then the JSON
//     compressed with DEFLATE (RFC 1951; klauspost/compress/flate at
//     BestSpeed, which reads and writes the format compress/flate does, in
//     less time).
//
// DecodeItem reads both, so a store written before opens as it was and
// its records change form only when they are written again. Items are
// mostly HTML, which DEFLATE halves: an item took about 4 KB of a bbolt
// file, and its pages are what the process maps (issue 17).
const formDeflate = 1

// maxItemJSON bounds what a compressed record may say its JSON takes, so
// that a damaged record cannot ask for a huge allocation.
const maxItemJSON = 64 << 20

var deflaters = sync.Pool{New: func() any {
	w, err := flate.NewWriter(nil, flate.BestSpeed)
	if err != nil {
		panic(err) // only for a level out of range
	}
	return w
}}

var inflaters = sync.Pool{New: func() any { return flate.NewReader(bytes.NewReader(nil)) }}

// deflateItem returns j (an item's JSON) in the smaller of the two forms.
func deflateItem(j []byte) []byte {
	var buf bytes.Buffer
	buf.Grow(len(j)/2 + binary.MaxVarintLen64 + 1)
	buf.WriteByte(formDeflate)
	buf.Write(binary.AppendUvarint(nil, uint64(len(j))))
	w := deflaters.Get().(*flate.Writer)
	w.Reset(&buf)
	_, err := w.Write(j) // a bytes.Buffer does not fail
	if err == nil {
		err = w.Close()
	}
	deflaters.Put(w)
	if err != nil || buf.Len() >= len(j) {
		return j
	}
	return buf.Bytes()
}

// inflateItem returns the JSON of a stored item record in either form.
func inflateItem(data []byte) ([]byte, error) {
	if len(data) == 0 || data[0] != formDeflate {
		return data, nil // JSON, or not a record: json.Unmarshal says which
	}
	n, k := binary.Uvarint(data[1:])
	if k <= 0 || n > maxItemJSON {
		return nil, errors.New("item record: bad length")
	}
	r := inflaters.Get().(io.ReadCloser)
	defer inflaters.Put(r)
	if err := r.(flate.Resetter).Reset(bytes.NewReader(data[1+k:]), nil); err != nil {
		return nil, fmt.Errorf("item record: %w", err)
	}
	j := make([]byte, n)
	if _, err := io.ReadFull(r, j); err != nil {
		return nil, fmt.Errorf("item record: %w", err)
	}
	if m, _ := r.Read(make([]byte, 1)); m > 0 {
		return nil, errors.New("item record: longer than its length")
	}
	return j, nil
}
