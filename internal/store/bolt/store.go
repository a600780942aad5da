// Package bolt is the store contract (package store) kept in one bbolt
// file: the embedded default. It owns the file's layout, its schema
// version, its migrations, the encoding of every record and every
// transaction; it is the only package that imports bbolt. The rules of
// what a poll's items are come from the story package: this package
// executes their decisions (item.go).
//
// It must not fetch, parse or render anything, and it must not log: every
// failure is returned, and "not found" (feed.ENOTFOUND) is told apart from a
// failing disk. A call whose context is done fails before its transaction
// begins; a transaction that has begun runs to its end.
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
// refuses, with store.ErrCorrupt, a file that is not bbolt, has no valid meta
// page, is shorter than its meta page says (truncated), or whose root or
// freelist page is of the wrong kind. Every transaction also turns a panic
// in bbolt, or a fault reading the mapped file, into store.ErrCorrupt. What this
// cannot catch is a data page damaged into a cycle (a branch page naming
// itself as a child): bbolt keeps no page checksums, and its cursors and
// its own tx.Check then loop forever. Such damage needs the file restored
// from a backup; Check finds lesser damage.
package bolt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"

	"github.com/kpolicy/aggregator/internal/store"
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
	// with other readers; every write fails with store.ErrReadOnly. The file must exist and be
	// initialised.
	ReadOnly bool
	// MaxSize caps the file in bytes: a write that would grow it further
	// fails with store.ErrFull and stores nothing. 0 means no cap.
	MaxSize int64
}

// DB is an open store. Its methods are safe for concurrent use: reads run
// in parallel, writes one at a time. It runs one goroutine of its own, which
// gives the file's mapped pages back after writes (unmap.go); Close stops it. It is a store.Store and a
// store.Backuper.
type DB struct {
	bolt        *bbolt.DB
	path        string
	now         func() time.Time
	titleWindow time.Duration
	states      stateWrites   // the group commit of source states (source.go)
	soon        soonStates    // SaveStateSoon's states until their commit (soon.go)
	leases      *leases       // in memory: see lease.go
	closed      atomic.Bool   // set by Close, for WatchChanges
	unmapper    unmapper      // gives the map's pages back (unmap.go)
	writes      atomic.Uint64 // write transactions ended, for unmapper
}

var (
	_ store.Store    = (*DB)(nil)
	_ store.Backuper = (*DB)(nil)
)

// Open opens the store at path, creating the file and its parent
// directories when missing. It returns an error wrapping store.ErrLocked when
// another process holds the file past opts.Timeout, store.ErrCorrupt when the file
// is not a readable bbolt database, and store.ErrSchema when it was written by a
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
		return nil, fmt.Errorf("open %s: %w%s", path, store.ErrLocked, lockHolder(path))
	case errors.Is(err, bbolt.ErrInvalid), errors.Is(err, bbolt.ErrChecksum), errors.Is(err, bbolt.ErrVersionMismatch):
		return nil, fmt.Errorf("open %s: %w (%v)", path, store.ErrCorrupt, err)
	case err != nil:
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db := &DB{bolt: b, path: path, now: opts.Now, titleWindow: opts.TitleWindow, leases: newLeases()}
	ctx := context.Background()
	err = db.init(ctx)
	if err == nil {
		err = db.initSeq(ctx)
	}
	if err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := db.initRev(ctx); err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := db.initKeys(ctx); err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if err := db.initIDs(ctx); err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.startUnmap(unmapEvery)
	return db, nil
}

// openBolt opens the file with bbolt, turning a panic or a memory fault on
// a damaged file into store.ErrCorrupt. After such a panic bbolt's file handle
// leaks; that is the price of not crashing.
func openBolt(path string, timeout time.Duration, readOnly bool, maxSize int64) (b *bbolt.DB, err error) {
	defer func() {
		if p := recover(); p != nil {
			b, err = nil, fmt.Errorf("%w (bbolt: %v)", store.ErrCorrupt, p)
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	return bbolt.Open(path, 0o600, &bbolt.Options{Timeout: timeout, ReadOnly: readOnly, MaxSize: int(maxSize)})
}

// init checks the schema version and creates the top-level buckets.
func (db *DB) init(ctx context.Context) error {
	var (
		version  int
		complete bool
	)
	err := db.view(ctx, func(tx *bbolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		if m == nil {
			// A fresh file has no buckets at all; one with buckets but no
			// meta belongs to some other program.
			return tx.ForEach(func(name []byte, _ *bbolt.Bucket) error {
				return fmt.Errorf("%w: not an aggregator database (has bucket %s but no schema)", store.ErrSchema, clip(name))
			})
		}
		v := m.Get(keySchema)
		n, err := strconv.Atoi(string(v))
		if err != nil || n < 1 {
			return fmt.Errorf("%w: bad schema version %s", store.ErrSchema, clip(v))
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
			store.ErrSchema, version, schemaVersion)
	}
	if version == schemaVersion && complete {
		return nil // opening a current file writes nothing
	}
	return db.update(ctx, func(tx *bbolt.Tx) error {
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
	db.stopUnmap()
	db.soon.drain() // SaveStateSoon's states are committed first
	db.closed.Store(true)
	if err := db.bolt.Close(); err != nil {
		return fmt.Errorf("close %s: %w", db.path, err)
	}
	return nil
}

// Path returns the file's path as given to Open.
func (db *DB) Path() string { return db.path }

// Ping runs an empty read transaction; it fails once the store is closed.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.view(ctx, func(*bbolt.Tx) error { return nil }); err != nil {
		return fmt.Errorf("ping %s: %w", db.path, err)
	}
	return nil
}

// Check walks every page of the file in a read transaction (bbolt's
// tx.Check) and returns all the problems it finds, joined; nil when sound.
func (db *DB) Check() error {
	var errs []error
	err := db.view(context.Background(), func(tx *bbolt.Tx) error {
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

// view runs fn in a read transaction, unless ctx is done; see guard. A
// transaction that has begun runs to its end: bbolt cannot stop one, and
// each is short.
func (db *DB) view(ctx context.Context, fn func(*bbolt.Tx) error) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	defer db.guard(&err)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	return db.bolt.View(fn)
}

// update runs fn in a write transaction, unless ctx is done; see guard.
func (db *DB) update(ctx context.Context, fn func(*bbolt.Tx) error) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	defer db.guard(&err)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer db.writes.Add(1) // counted once it ended: the unmap after it sees its pages
	return classify(db.bolt.Update(func(tx *bbolt.Tx) error { dense(tx); return fn(tx) }))
}

// batch runs fn in a write transaction shared with other batch calls made
// at the same time (bbolt's Batch: fn may run more than once), unless ctx
// is done; see guard. The mailing lists' sign-ups use it: requests that
// arrive together share one commit, for at most bbolt's 10 ms wait.
func (db *DB) batch(ctx context.Context, fn func(*bbolt.Tx) error) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	defer db.guard(&err)
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer db.writes.Add(1)
	return classify(db.bolt.Batch(func(tx *bbolt.Tx) error { dense(tx); return fn(tx) }))
}

// guard turns a panic inside a transaction (bbolt reading a damaged page, or
// a fault on the mapped file) into store.ErrCorrupt. bbolt has already rolled the
// transaction back by the time the panic reaches here.
func (db *DB) guard(err *error) {
	if p := recover(); p != nil {
		*err = fmt.Errorf("%w (%v)", store.ErrCorrupt, p)
	}
}
