package bolt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/bbolt"
)

// Backup writes a consistent copy of the whole database file to w, while
// polls and requests go on, and returns the number of bytes written. The
// copy opens as a store.
//
// A read transaction held while w is slow (a client downloading at 1 KB/s)
// would keep bbolt from growing the file, and so stall every write: the
// copy is first written, in one read transaction as fast as the disk
// goes, to an unnamed temporary file beside the database (it needs as
// much free space as the database takes), then streamed to w with no
// transaction held.
func (db *DB) Backup(ctx context.Context, w io.Writer) (int64, error) {
	tmp, err := os.CreateTemp(filepath.Dir(db.path), ".backup-*")
	if err != nil {
		return 0, fmt.Errorf("backup %s: %w", db.path, err)
	}
	defer tmp.Close()
	// Unnamed from the start: a crash leaves nothing behind.
	if err := os.Remove(tmp.Name()); err != nil {
		return 0, fmt.Errorf("backup %s: %w", db.path, err)
	}
	err = db.view(ctx, func(tx *bbolt.Tx) error {
		_, err := tx.WriteTo(tmp)
		return err
	})
	if err == nil {
		_, err = tmp.Seek(0, io.SeekStart)
	}
	if err != nil {
		return 0, fmt.Errorf("backup %s: %w", db.path, err)
	}
	n, err := io.Copy(w, tmp)
	if err != nil {
		return n, fmt.Errorf("backup %s: %w", db.path, err)
	}
	return n, nil
}

// Size returns the size of the database file in bytes, as of the last
// committed transaction.
func (db *DB) Size(ctx context.Context) (int64, error) {
	var n int64
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		n = tx.Size()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("size %s: %w", db.path, err)
	}
	return n, nil
}

// Compact copies the database at src into a new file dst, rewriting every
// bucket densely (bbolt.Compact), and returns both sizes. It needs the file
// to itself: run it with the aggregator stopped. dst must not exist, so a
// mistake never overwrites a database.
func Compact(src, dst string) (before, after int64, err error) {
	if _, err := os.Stat(dst); err == nil {
		return 0, 0, fmt.Errorf("compact: %s already exists", dst)
	} else if !errors.Is(err, os.ErrNotExist) {
		return 0, 0, fmt.Errorf("compact: %w", err)
	}
	in, err := Open(src, Options{})
	if err != nil {
		return 0, 0, fmt.Errorf("compact: %w", err)
	}
	defer in.Close()
	out, err := bbolt.Open(dst, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		return 0, 0, fmt.Errorf("compact: %w", err)
	}
	if err := bbolt.Compact(out, in.bolt, 64<<20); err != nil {
		_ = out.Close()
		return 0, 0, fmt.Errorf("compact %s: %w", src, err)
	}
	if err := out.Close(); err != nil {
		return 0, 0, fmt.Errorf("compact: %w", err)
	}
	si, err := os.Stat(src)
	if err != nil {
		return 0, 0, fmt.Errorf("compact: %w", err)
	}
	di, err := os.Stat(dst)
	if err != nil {
		return 0, 0, fmt.Errorf("compact: %w", err)
	}
	return si.Size(), di.Size(), nil
}
