// Package store keeps the aggregator's items and the state of its sources in
// one bbolt file. It owns the file's layout, its schema version and every
// transaction; it is the only package that imports bbolt.
//
// It must not fetch, parse or render anything, and it must not log: every
// failure is returned, and "not found" (feed.ENOTFOUND) is told apart from a
// failing disk.
//
// # Layout
//
//	items   / <source id> / <item key>                       → item, JSON (itemRecord)
//	bytime  / <source id> / <8-byte inverted sort time><key> → empty
//	sources / <source id>                                    → source state, JSON (stateRecord)
//	tombstones / <source id> / <item key>                    → when pruned, 8-byte Unix seconds (prune.go)
//	meta    / "schema"                                       → schema version, decimal ASCII
//	meta    / "key_rules"                                    → the identity rules the keys were made by (migrate.go)
//	byseq   / <8-byte seq>                                   → source id, 0, item key (archive.go)
//	byrev   / <8-byte rev>                                   → source id, 0, item key (rev.go)
//	gone    / <8-byte rev>                                   → source id, 0, item key, deleted (rev.go)
//	members / <index> / …                                    → membership indexes (member.go)
//	memberof / <story> <index>                               → empty (member.go)
//	websub  / <topic> 0 <callback>                           → subscription, JSON (websub.go)
//	aliases / <source id> / <item key>                       → the story the key names, JSON (aliasRecord)
//	ids     / <upstream id>                                  → ref of the item that carried it first (ids.go)
//	links   / <canonical link key>                           → ref of the story with that link
//	titles  / <title hash><8-byte sort stamp><ref>           → empty
//
// A story carried by several sources is stored once, under the source that
// delivered it first; the others' copies are origins of it, aliases, and
// bytime entries of their sources. dedupe.go describes the aliases, links
// and titles buckets and the rules that use them.
//
// The sequence of each items/<source id> bucket is the number of items stored
// for that source, and that of each aliases/<source id> bucket the number of
// its copies merged into other sources' stories, kept in the same
// transaction as the items, so counts cost no scan.
//
// The bytime index orders a source's items newest first when walked forward:
// its key is the item's sort time ([feed.Item.Sort]) as nanoseconds since
// 1970, clamped to what an int64 holds (years 1678 to 2262), shifted to
// unsigned so that dates before 1970 still order, and bit-inverted, followed
// by the item key, so that equal times order by key. A source's merged copy
// has an entry at its story's sort time. [DB.Items] merges one cursor per
// source and shows each story once.
//
// Values are JSON of private record types with their own field tags, not of
// the feed types: renaming a Go field must not silently drop stored data, and
// a JSON value can be read with the bbolt command-line tool when debugging.
// A database whose schema version is newer than this package's is refused.
//
// # Damaged files
//
// bbolt trusts its file. Open first reads the two meta pages itself and
// refuses, with ErrCorrupt, a file that is not bbolt, has no valid meta
// page, is shorter than its meta page says (truncated), or whose root or
// freelist page is of the wrong kind. Every transaction also turns a panic
// in bbolt, or a fault reading the mapped file, into ErrCorrupt. What this
// cannot catch is a data page damaged into a cycle (a branch page naming
// itself as a child): bbolt keeps no page checksums, and its cursors and
// its own tx.Check then loop forever. Such damage needs the file restored
// from a backup; Check finds lesser damage.
package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"time"

	"go.etcd.io/bbolt"
)

// schemaVersion is the version of the layout above. Raise it when the layout
// or an encoding changes incompatibly, and teach Open to migrate older files.
//
// Version 2 added the aliases, links and titles buckets and item origins;
// Open migrates a version 1 file (see migrate.go).
const schemaVersion = 2

var (
	bucketItems   = []byte("items")
	bucketByTime  = []byte("bytime")
	bucketSources = []byte("sources")
	bucketMeta    = []byte("meta")
	keySchema     = []byte("schema")
)

// buckets are the top-level buckets, all created by Open.
var buckets = [][]byte{bucketItems, bucketByTime, bucketSources, bucketMeta, bucketAliases, bucketLinks, bucketTitles}

// Errors that Open returns, wrapped with the operation and the file's path.
var (
	// ErrLocked means another process (or another Open in this one) holds
	// the database file.
	ErrLocked = errors.New("database is locked by another process (is another aggregator running?)")
	// ErrCorrupt means the file is not a bbolt database, is truncated, or
	// is damaged in a way bbolt cannot read.
	ErrCorrupt = errors.New("database file is corrupt or not a bbolt database")
	// ErrSchema means the file was written by a newer aggregator, or by a
	// program that is not the aggregator at all.
	ErrSchema = errors.New("database schema not supported")
	// ErrFull means a write would grow the file past Options.MaxSize, or
	// the disk has no room left; nothing of that write was stored.
	ErrFull = errors.New("database is full")
)

// Options tunes Open. The zero value is usable.
type Options struct {
	// Timeout bounds the wait for the file lock; 1s when zero.
	Timeout time.Duration
	// Now is the clock used for FirstSeen and Updated; time.Now when nil.
	Now func() time.Time
	// TitleWindow is how far apart two sources' items with the same folded
	// title may be and still be stored as one story; 0 turns the title
	// rule off. feeds.yaml's dedupe.title_window.
	TitleWindow time.Duration
	// ReadOnly opens an existing file for reading only, sharing its lock
	// with other readers; every write fails. The file must exist and be
	// initialised.
	ReadOnly bool
	// MaxSize caps the file in bytes: a write that would grow it further
	// fails with ErrFull and stores nothing. 0 means no cap.
	MaxSize int64
}

// DB is an open store. Its methods are safe for concurrent use: reads run
// in parallel, writes one at a time.
type DB struct {
	bolt        *bbolt.DB
	path        string
	now         func() time.Time
	titleWindow time.Duration
}

// Open opens the store at path, creating the file and its parent
// directories when missing. It returns an error wrapping ErrLocked when
// another process holds the file past opts.Timeout, ErrCorrupt when the file
// is not a readable bbolt database, and ErrSchema when it was written by a
// newer version.
func Open(path string, opts Options) (*DB, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ReadOnly {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
	} else if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// bbolt trusts the file's meta page and maps the file: a truncated file
	// makes it read past the end (SIGBUS) and a bad page makes it panic.
	// Look at the header first, and still recover if bbolt panics.
	if err := checkHeader(path); err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	b, err := openBolt(path, opts.Timeout, opts.ReadOnly, opts.MaxSize)
	switch {
	case errors.Is(err, bbolt.ErrTimeout):
		return nil, fmt.Errorf("open %s: %w%s", path, ErrLocked, lockHolder(path))
	case errors.Is(err, bbolt.ErrInvalid), errors.Is(err, bbolt.ErrChecksum), errors.Is(err, bbolt.ErrVersionMismatch):
		return nil, fmt.Errorf("open %s: %w (%v)", path, ErrCorrupt, err)
	case err != nil:
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db := &DB{bolt: b, path: path, now: opts.Now, titleWindow: opts.TitleWindow}
	err = db.init()
	if err == nil {
		err = db.initSeq()
	}
	if err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := db.initRev(); err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := db.initKeys(); err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := db.initIDs(); err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// openBolt opens the file with bbolt, turning a panic or a memory fault on
// a damaged file into ErrCorrupt. After such a panic bbolt's file handle
// leaks; that is the price of not crashing.
func openBolt(path string, timeout time.Duration, readOnly bool, maxSize int64) (b *bbolt.DB, err error) {
	defer func() {
		if p := recover(); p != nil {
			b, err = nil, fmt.Errorf("%w (bbolt: %v)", ErrCorrupt, p)
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	return bbolt.Open(path, 0o600, &bbolt.Options{Timeout: timeout, ReadOnly: readOnly, MaxSize: int(maxSize)})
}

// init checks the schema version and creates the top-level buckets.
func (db *DB) init() error {
	var (
		version  int
		complete bool
	)
	err := db.view(func(tx *bbolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		if m == nil {
			// A fresh file has no buckets at all; one with buckets but no
			// meta belongs to some other program.
			return tx.ForEach(func(name []byte, _ *bbolt.Bucket) error {
				return fmt.Errorf("%w: not an aggregator database (has bucket %s but no schema)", ErrSchema, clip(name))
			})
		}
		v := m.Get(keySchema)
		n, err := strconv.Atoi(string(v))
		if err != nil || n < 1 {
			return fmt.Errorf("%w: bad schema version %s", ErrSchema, clip(v))
		}
		version = n
		complete = true
		for _, name := range buckets {
			complete = complete && tx.Bucket(name) != nil
		}
		return nil
	})
	if err != nil {
		return err
	}
	if version > schemaVersion {
		return fmt.Errorf("%w: the file has schema version %d, newer than this program's %d (upgrade the aggregator)",
			ErrSchema, version, schemaVersion)
	}
	if version == schemaVersion && complete {
		return nil // opening a current file writes nothing
	}
	return db.update(func(tx *bbolt.Tx) error {
		for _, name := range buckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		if version == schemaVersion {
			return nil
		}
		if version == 1 {
			if err := migrate1(tx); err != nil {
				return fmt.Errorf("migrate schema 1 to 2: %w", err)
			}
		}
		return tx.Bucket(bucketMeta).Put(keySchema, []byte(strconv.Itoa(schemaVersion)))
	})
}

// Close closes the file and releases its lock. Calling it again returns nil.
func (db *DB) Close() error {
	if err := db.bolt.Close(); err != nil {
		return fmt.Errorf("close %s: %w", db.path, err)
	}
	return nil
}

// Path returns the file's path as given to Open.
func (db *DB) Path() string { return db.path }

// Ping runs an empty read transaction; it fails once the store is closed.
func (db *DB) Ping() error {
	if err := db.view(func(*bbolt.Tx) error { return nil }); err != nil {
		return fmt.Errorf("ping %s: %w", db.path, err)
	}
	return nil
}

// Check walks every page of the file in a read transaction (bbolt's
// tx.Check) and returns all the problems it finds, joined; nil when sound.
func (db *DB) Check() error {
	var errs []error
	err := db.view(func(tx *bbolt.Tx) error {
		for err := range tx.Check() {
			errs = append(errs, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("check %s: %w", db.path, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("check %s: %w", db.path, err)
	}
	return nil
}

// view runs fn in a read transaction; see guard.
func (db *DB) view(fn func(*bbolt.Tx) error) (err error) {
	defer db.guard(&err)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	return db.bolt.View(fn)
}

// update runs fn in a write transaction; see guard.
func (db *DB) update(fn func(*bbolt.Tx) error) (err error) {
	defer db.guard(&err)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	return full(db.bolt.Update(fn))
}

// batch runs fn in a write transaction shared with other batch calls made
// at the same time (bbolt's Batch: fn may run more than once); see guard.
func (db *DB) batch(fn func(*bbolt.Tx) error) (err error) {
	defer db.guard(&err)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	return full(db.bolt.Batch(fn))
}

// guard turns a panic inside a transaction (bbolt reading a damaged page, or
// a fault on the mapped file) into ErrCorrupt. bbolt has already rolled the
// transaction back by the time the panic reaches here.
func (db *DB) guard(err *error) {
	if p := recover(); p != nil {
		*err = fmt.Errorf("%w (%v)", ErrCorrupt, p)
	}
}
