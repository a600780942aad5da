package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/zstd"
)

// An item record is stored in one of three forms, told apart by its first
// byte:
//
//   - '{': the item's JSON (itemRecord), as every store before issue 17
//     wrote it, and still the form of a record that compression would not
//     make smaller;
//   - formDeflate (1): the length of that JSON as a uvarint, then the JSON
//     compressed with DEFLATE (RFC 1951), as stores wrote items from issue
//     17's round 6 to its round 9;
//   - formZstd (2): the item's Seq and Rev as uvarints and a byte of flags
//     (flagIDShared), the fields a store decides in its write transaction,
//     then the JSON of the rest as one Zstandard frame (RFC 8878, with its
//     length and checksum), which klauspost/compress/zstd writes at its
//     fastest level as small as DEFLATE did (2.48 to 1 over the corpus's
//     items), in three quarters of the time, and reads in a third. The
//     frame can be made before the transaction (Prepare).
//
// DecodeItem reads all three, so a store written before opens as it was
// and its records change form only when they are written again. Items are
// mostly HTML, which compression halves: an item took about 4 KB of a
// bbolt file, and its pages are what the process maps (issue 17).
const (
	formDeflate = 1
	formZstd    = 2

	flagIDShared = 1 // formZstd's flags: the item's IDShared
)

// maxItemJSON bounds what a compressed record may say its JSON takes, so
// that a damaged record cannot ask for a huge allocation.
const maxItemJSON = 64 << 20

// The coders are made on first use, as many as there are processors to run
// them: each EncodeAll or DecodeAll takes one, and waits while all are busy.
var (
	encoder = sync.OnceValue(func() *zstd.Encoder {
		e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)), zstd.WithLowerEncoderMem(true))
		if err != nil {
			panic(err) // only for options out of range
		}
		return e
	})
	decoder = sync.OnceValue(func() *zstd.Decoder {
		d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(runtime.GOMAXPROCS(0)),
			zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxMemory(maxItemJSON))
		if err != nil {
			panic(err)
		}
		return d
	})
)

// minZstdHead is the least a formZstd record holds before its frame: the
// form, one byte each for Seq and Rev, the flags.
const minZstdHead = 4

// compressItem returns j (an item's JSON) as a Zstandard frame, or nil
// when a formZstd record of it would not be smaller than j.
func compressItem(j []byte) []byte {
	z := encoder().EncodeAll(j, make([]byte, 0, len(j)/2+16))
	if len(z)+minZstdHead >= len(j) {
		return nil
	}
	return z
}

// zstdHead is what a formZstd record holds before its frame.
type zstdHead struct {
	seq, rev uint64
	flags    byte
}

// decompressItem returns the JSON of a stored item record in any form,
// and the head of a formZstd one.
func decompressItem(data []byte) ([]byte, *zstdHead, error) {
	if len(data) == 0 || data[0] != formZstd {
		j, err := inflateItem(data)
		return j, nil, err
	}
	var h zstdHead
	rest := data[1:]
	var k int
	if h.seq, k = binary.Uvarint(rest); k <= 0 {
		return nil, nil, errors.New("item record: bad seq")
	}
	rest = rest[k:]
	if h.rev, k = binary.Uvarint(rest); k <= 0 {
		return nil, nil, errors.New("item record: bad rev")
	}
	rest = rest[k:]
	if len(rest) == 0 {
		return nil, nil, errors.New("item record: no flags")
	}
	h.flags, rest = rest[0], rest[1:]
	j, err := decoder().DecodeAll(rest, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("item record: %w", err)
	}
	return j, &h, nil
}

var inflaters = sync.Pool{New: func() any { return flate.NewReader(bytes.NewReader(nil)) }}

// inflateItem returns the JSON of a record in JSON or formDeflate.
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
