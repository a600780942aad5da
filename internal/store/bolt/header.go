package bolt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"

	"github.com/kpolicy/aggregator/internal/store"
)

// bbolt's on-disk header, as written by go.etcd.io/bbolt v1.4 (format
// version 2): every page starts with a 16-byte header (id uint64, flags
// uint16, count uint16, overflow uint32); pages 0 and 1 hold a meta record
// right after it, in the machine's byte order:
//
//	magic uint32, version uint32, pageSize uint32, flags uint32,
//	root pgid uint64, root sequence uint64, freelist pgid uint64,
//	high-water pgid uint64, txid uint64, checksum uint64 (FNV-64a of the rest)
const (
	boltMagic         = 0xED0CDAED
	boltVersion       = 2
	pageHeaderSize    = 16
	metaSize          = 64
	metaChecksummed   = 56
	noFreelist        = ^uint64(0)
	branchPageFlag    = 0x01
	leafPageFlag      = 0x02
	freelistPageFlag  = 0x10
	minPageSize       = 1024
	maxPageSize       = 1 << 24
	maxMetaPageProbes = 15 // bbolt looks for the second meta at 1KiB << 0..14
)

type meta struct {
	pageSize uint64
	root     uint64
	freelist uint64
	pgid     uint64 // high-water mark: pages [0, pgid) are in use
	txid     uint64
}

// checkHeader refuses, with store.ErrCorrupt, a file that bbolt would misread:
// one without a valid meta page, or whose newest meta page points past the
// end of the file (truncated) or at pages of the wrong kind. A missing or
// empty file passes: bbolt initialises it.
//
// It reads without the file lock. That is safe against a live writer: bbolt
// grows the file before writing pages and writes a meta page last, so the
// newest meta page that passes its checksum never points past the end.
func checkHeader(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	size := uint64(info.Size())
	if size == 0 {
		return nil
	}
	if size < 2*minPageSize {
		return fmt.Errorf("%w (only %d bytes)", store.ErrCorrupt, size)
	}

	// The page size is in the meta pages; find one that validates, at
	// page 0 or, if that one is damaged, at any plausible page size.
	first, why := readMeta(f, 0)
	pageSize := first.pageSize
	if why != nil {
		for i := range maxMetaPageProbes {
			off := uint64(minPageSize) << i
			if off+pageHeaderSize+metaSize > size {
				break
			}
			if m, err := readMeta(f, off); err == nil && m.pageSize == off {
				pageSize = m.pageSize
				break
			}
		}
		if pageSize == 0 {
			return fmt.Errorf("%w (%v)", store.ErrCorrupt, why)
		}
	}

	// Like bbolt, use the valid meta page with the highest transaction id.
	var best meta
	found := false
	for _, off := range []uint64{0, pageSize} {
		m, err := readMeta(f, off)
		if err != nil || m.pageSize != pageSize {
			continue
		}
		if !found || m.txid > best.txid {
			best, found = m, true
		}
	}
	if !found {
		return fmt.Errorf("%w (no valid meta page)", store.ErrCorrupt)
	}
	if best.pgid < 3 || best.pgid > size/best.pageSize {
		return fmt.Errorf("%w (truncated: %d bytes, but the header says %d pages of %d bytes)",
			store.ErrCorrupt, size, best.pgid, best.pageSize)
	}
	if best.root < 2 || best.root >= best.pgid {
		return fmt.Errorf("%w (root page %d out of range)", store.ErrCorrupt, best.root)
	}
	if err := checkPageFlags(f, best, best.root, branchPageFlag|leafPageFlag); err != nil {
		return fmt.Errorf("%w (root %v)", store.ErrCorrupt, err)
	}
	if best.freelist != noFreelist {
		if best.freelist < 2 || best.freelist >= best.pgid {
			return fmt.Errorf("%w (freelist page %d out of range)", store.ErrCorrupt, best.freelist)
		}
		if err := checkPageFlags(f, best, best.freelist, freelistPageFlag); err != nil {
			return fmt.Errorf("%w (freelist %v)", store.ErrCorrupt, err)
		}
	}
	return nil
}

// readMeta reads and validates the meta record of the page at off.
func readMeta(r io.ReaderAt, off uint64) (meta, error) {
	var buf [pageHeaderSize + metaSize]byte
	if _, err := r.ReadAt(buf[:], int64(off)); err != nil {
		return meta{}, fmt.Errorf("reading meta page at %d: %w", off, err)
	}
	b := buf[pageHeaderSize:]
	ne := binary.NativeEndian
	if ne.Uint32(b[0:]) != boltMagic {
		return meta{}, errors.New("no bbolt magic number")
	}
	if v := ne.Uint32(b[4:]); v != boltVersion {
		return meta{}, fmt.Errorf("bbolt format version %d, want %d", v, boltVersion)
	}
	h := fnv.New64a()
	h.Write(b[:metaChecksummed])
	if h.Sum64() != ne.Uint64(b[metaChecksummed:]) {
		return meta{}, errors.New("meta page checksum mismatch")
	}
	m := meta{
		pageSize: uint64(ne.Uint32(b[8:])),
		root:     ne.Uint64(b[16:]),
		freelist: ne.Uint64(b[32:]),
		pgid:     ne.Uint64(b[40:]),
		txid:     ne.Uint64(b[48:]),
	}
	if m.pageSize < minPageSize || m.pageSize > maxPageSize {
		return meta{}, fmt.Errorf("page size %d out of range", m.pageSize)
	}
	return m, nil
}

// checkPageFlags reports whether page id carries its own id and one of the
// flags in want.
func checkPageFlags(r io.ReaderAt, m meta, id uint64, want uint16) error {
	var buf [pageHeaderSize]byte
	if _, err := r.ReadAt(buf[:], int64(id*m.pageSize)); err != nil {
		return fmt.Errorf("page %d: %w", id, err)
	}
	ne := binary.NativeEndian
	if got := ne.Uint64(buf[0:]); got != id {
		return fmt.Errorf("page %d: header says page %d", id, got)
	}
	if flags := ne.Uint16(buf[8:]); flags&want == 0 {
		return fmt.Errorf("page %d: flags %#x, want %#x", id, flags, want)
	}
	return nil
}
