// Package postgres is the store contract (package store) kept in a
// PostgreSQL database, for several aggregator instances sharing one
// store. It owns the schema (schema.go), its version and migrations, the
// encoding of every record and every transaction; it is the only package
// that imports pgx. The rules of what a poll's items are come from the
// story package: this package executes their decisions (item.go), as
// internal/store/bolt does.
//
// It must not fetch, parse or render anything, and it must not log: every
// failure is returned, and "not found" (feed.ENOTFOUND) is told apart from
// a lost connection. Every call passes its context to pgx: a done context
// fails the call before it begins and stops a query under way, except a
// write's last statement (its COMMIT, or its one statement), which runs to
// its answer (see sent): a write that fails has stored nothing.
//
// # Schema
//
// Open creates the tables when they are missing and migrates older ones,
// in one transaction under a transaction-level advisory lock
// (pg_advisory_xact_lock), so that instances starting together do it once.
// The version is the row of schema_version; a version newer than this
// package's is refused with store.ErrSchema. The tables are created in
// the connection's current schema (search_path), so one database can hold
// several stores.
//
// Ids, keys, titles and links are bytes (bytea: the contract's ids need
// not be UTF-8) and may be up to 32 KiB, past PostgreSQL's B-tree entry
// limit: rows are found by a 16-byte SHA-256 prefix of what names them
// (columns h, sh, kh, th), and an index that orders by sort time then key
// holds the key's hash, the key itself sorted after it (incremental sort:
// ties of one sort time within one source are few). Records (items, states, aliases,
// subscriptions) are JSON of private record types, as in bolt; Seq and
// Rev are columns.
//
// # Writers: one at a time
//
// Every write that decides or executes story decisions, or moves the write
// order (SavePoll, Prune, UpdateIndexes, DropIndex, TouchSeqs,
// ExpireMembers), runs in a READ COMMITTED transaction that first takes
// one advisory lock, the writer lock (pg_advisory_xact_lock), held until
// it commits. Writers are therefore serialised across every instance, as
// bbolt serialises them within one process; reads never wait.
//
// Finer locks were weighed and refused for now. Two polls of different
// sources interact through the link, title and id indexes (a row that does
// not exist yet decides a merge) and through the story they both merge
// into: exact locks would be one per canonical link, folded title and
// upstream id of every item, thousands per poll, against PostgreSQL's
// shared lock table; striped locks collide for any two polls of realistic
// size (a birthday bound), so they serialise anyway. SERIALIZABLE would
// need retries of whole polls for every pair of concurrent polls, since
// each moves the one write-order counter. A poll's transaction is short
// (its items are read and written by key, in a few batched round trips:
// pollbatch.go); the fetching, which is where
// the time goes, runs in parallel on every instance. Leases (lease.go)
// keep one source's polls on one instance; if one lock proves a
// bottleneck, per-source locks plus predicate locks on the index rows a
// decision read are where it would go.
//
// # The write order
//
// Rev numbers come from the counters row "rev", advanced inside the
// writer's transaction, under the writer lock, at the end of the
// transaction. PostgreSQL makes a commit visible before it releases the
// transaction's locks, so a writer that takes Rev numbers after another
// commits after it and every snapshot that sees its numbers sees the
// earlier ones: a follower that read up to 12 never misses an 11
// committed later (TestRevCommitOrder). Seq numbers come from a sequence:
// they are never reused; their order need not be the commit order.
//
// # Capabilities and next round
//
// The store is not a store.Backuper (use pg_dump) and has no size cap
// (store.ErrFull comes from a full disk). Leases (lease.go) are tables
// of their own (poll_leases, host_leases, role_leases), claimed by the
// plpgsql function claim_poll with SELECT … FOR UPDATE SKIP LOCKED on the
// database's clock, outside the writer lock.
//
// # The change feed
//
// Every writer transaction ends with a NOTIFY on the store's channel (one
// per schema) carrying the write order's last Rev; PostgreSQL delivers it
// at commit, never for a transaction rolled back. WatchChanges listens on
// a connection of its own, taken from the pool (the pool may open one
// more than MaxConns), and reconnects with backoff (changes.go).
package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/kpolicy/aggregator/internal/store"
)

// Options tunes Open. The zero value is usable.
type Options struct {
	// Now is the clock used for FirstSeen and Updated; time.Now when nil.
	Now func() time.Time
	// TitleWindow is the title rule's window (dedupe.title_window); 0
	// turns it off.
	TitleWindow time.Duration
	// ReadOnly refuses every write with store.ErrReadOnly and does not
	// create or migrate the schema: it must exist.
	ReadOnly bool
	// MaxConns bounds the pool; pgxpool's default when 0.
	MaxConns int32
}

// DB is an open store: a connection pool. Its methods are safe for
// concurrent use. It is a store.Store.
type DB struct {
	pool        *pgxpool.Pool
	now         func() time.Time
	titleWindow time.Duration
	readOnly    bool
	channel     string      // the change feed's NOTIFY channel (changes.go)
	closed      atomic.Bool // set by Close, for WatchChanges
	// beforeCommit, when set (by tests), runs at the end of every writer
	// transaction, before it commits.
	beforeCommit func(op string)
}

var _ store.Store = (*DB)(nil)

// Advisory lock keys: class and object (pg_advisory_xact_lock(int, int)).
const (
	lockClass  = 0x61677267 // "aggr"
	lockSchema = 1
	lockWriter = 2
)

// Open connects to the database at url (a postgres:// or postgresql://
// URL, as pgx reads it) and creates or migrates the schema. It returns an
// error wrapping store.ErrSchema when the schema is newer than this
// package's, or not the aggregator's.
func Open(ctx context.Context, url string, opts Options) (*DB, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	db := &DB{pool: pool, now: opts.Now, titleWindow: opts.TitleWindow, readOnly: opts.ReadOnly}
	if err := db.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	var schema string
	if err := pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	db.channel = channelName(schema)
	return db, nil
}

// Close closes the pool. Calling it again returns nil.
func (db *DB) Close() error {
	db.closed.Store(true)
	db.pool.Close()
	return nil
}

// Ping checks that the database answers; it fails once the store is
// closed.
func (db *DB) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	if err := db.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	return nil
}

// Size returns the bytes the store's tables and indexes take.
func (db *DB) Size(ctx context.Context) (int64, error) {
	var n int64
	err := db.pool.QueryRow(ctx, `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'S')`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("size: %w", err)
	}
	return n, nil
}

// querier is what reads need: the pool, or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// write runs fn in a READ COMMITTED transaction holding the writer lock;
// see the package doc. It fails before beginning when ctx is done or the
// store is read-only.
func (db *DB) write(ctx context.Context, op string, fn func(tx pgx.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if db.readOnly {
		return store.ErrReadOnly
	}
	err := db.inTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, lockClass, lockWriter); err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			return err
		}
		// Delivered at commit, to every instance's WatchChanges.
		if _, err := tx.Exec(ctx, notifySQL, db.channel); err != nil {
			return err
		}
		if db.beforeCommit != nil {
			db.beforeCommit(op)
		}
		return nil
	})
	return classify(err)
}

// exec runs one statement outside the writer lock (a state, a
// subscription: rows no decision reads).
func (db *DB) exec(ctx context.Context, sql string, args ...any) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if db.readOnly {
		return store.ErrReadOnly
	}
	sctx, cancel := sent(ctx)
	defer cancel()
	_, err := db.pool.Exec(sctx, sql, args...)
	return classify(err)
}

// commitWait bounds the wait for a write's last statement; see sent.
const commitWait = 30 * time.Second

// sent is the context of a write's last statement: COMMIT, or the one
// statement of a write outside a transaction. ctx's end must not stop
// it. pgx, when a context ends while a statement runs, closes the
// connection and returns the context's error, and the server may have run
// the statement (committed) all the same: a write that failed would have
// stored, against the contract (a cancelled SaveState did, 1 in 20:
// storetest's CancelledState). A write therefore checks ctx before it
// begins, may stop between the statements of a transaction (the server
// rolls an unfinished one back when its connection closes), and waits for
// its last statement's answer, up to commitWait.
func sent(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), commitWait)
}

// inTx runs fn in a transaction begun with opts under ctx, and commits it
// with sent(ctx): a transaction whose fn returned nil is committed even
// when ctx ends meanwhile, and a call that returns an error stored nothing
// (short of a connection lost during COMMIT, which no client can tell).
func (db *DB) inTx(ctx context.Context, opts pgx.TxOptions, fn func(tx pgx.Tx) error) error {
	tx, err := db.pool.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	defer func() {
		rctx, cancel := sent(ctx)
		defer cancel()
		_ = tx.Rollback(rctx) // after Commit, pgx.ErrTxClosed
	}()
	if err := fn(tx); err != nil {
		return err
	}
	cctx, cancel := sent(ctx)
	defer cancel()
	return tx.Commit(cctx)
}

// view runs fn in a read-only REPEATABLE READ transaction: one snapshot
// for reads of several statements.
func (db *DB) view(ctx context.Context, fn func(tx pgx.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn)
}

// read checks ctx before a single-statement read.
func read(ctx context.Context) error { return ctx.Err() }

// classify wraps the store's sentinels around the server's conditions.
func classify(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "53100": // disk_full
			return fmt.Errorf("%w: %w", store.ErrFull, err)
		case "25006": // read_only_sql_transaction
			return fmt.Errorf("%w: %w", store.ErrReadOnly, err)
		}
	}
	return err
}
