package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/kpolicy/aggregator/internal/config"
	"github.com/kpolicy/aggregator/internal/store"
	"github.com/kpolicy/aggregator/internal/store/bolt"
	"github.com/kpolicy/aggregator/internal/store/postgres"
)

// openTimeout bounds connecting to PostgreSQL and migrating its schema.
const openTimeout = 30 * time.Second

// isPostgres reports whether a storage location (storage.path, -db) names a
// PostgreSQL database: config.Storage.IsPostgres.
func isPostgres(loc string) bool { return config.Storage{Path: loc}.IsPostgres() }

// pgURL is loc as pgx reads it: trimmed, its scheme in lower case.
func pgURL(loc string) string {
	loc = strings.TrimSpace(loc)
	scheme, rest, _ := strings.Cut(loc, "://")
	return strings.ToLower(scheme) + "://" + rest
}

// redacted is loc fit for a message: a URL's password replaced by xxxxx.
func redacted(loc string) string {
	if u, err := url.Parse(strings.TrimSpace(loc)); err == nil && u.User != nil {
		return u.Redacted()
	}
	if isPostgres(loc) {
		return "the PostgreSQL URL"
	}
	return loc
}

// openStore opens the store the config names, with its size cap and title
// window; readOnly opens it for reading only, beside a running server. The
// location's form picks the backend (isPostgres). An error says what to do
// next when the operator has to act: a damaged file is to be restored or
// moved aside, a locked one means another aggregator.
func openStore(cfg config.Config, readOnly bool) (store.Store, error) {
	loc := cfg.Storage.Path
	if isPostgres(loc) {
		if cfg.Storage.MaxSize != 0 {
			// A cap that silently did nothing would be worse than none.
			return nil, fmt.Errorf("open %s: storage.max_size caps a bbolt file; a PostgreSQL store has no cap of its own: remove it", redacted(loc))
		}
		ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
		defer cancel()
		db, err := postgres.Open(ctx, pgURL(loc), postgres.Options{TitleWindow: cfg.Dedupe.TitleWindow, ReadOnly: readOnly})
		if err != nil {
			// pgx's messages name the host and user, never the password;
			// the URL is named redacted.
			return nil, fmt.Errorf("open %s: %w", redacted(loc), err)
		}
		return db, nil
	}
	db, err := bolt.Open(loc, bolt.Options{MaxSize: cfg.Storage.MaxSize, TitleWindow: cfg.Dedupe.TitleWindow, ReadOnly: readOnly})
	switch {
	case errors.Is(err, store.ErrCorrupt):
		return nil, fmt.Errorf("%w\n  the file cannot be used as it is: restore it from a backup (aggregator backup), "+
			"or move it aside to start with an empty database (mv %s %s.damaged)", err, loc, loc)
	case errors.Is(err, store.ErrLocked) && !readOnly:
		return nil, fmt.Errorf("%w\n  stop the other aggregator, or give this one another database with -db", err)
	case err != nil:
		return nil, err
	}
	return db, nil
}

// compactStore rewrites the store at loc densely into the new file tmp and
// returns both sizes: offline maintenance, which only a file has.
func compactStore(loc, tmp string) (before, after int64, err error) {
	if isPostgres(loc) {
		return 0, 0, fmt.Errorf("compact %s: %w: PostgreSQL compacts itself (autovacuum; VACUUM FULL by hand)", redacted(loc), errors.ErrUnsupported)
	}
	return bolt.Compact(loc, tmp)
}

// loadAndOpen reads the config, applies the command-line overrides and
// opens its database: the start of every command that works on the store.
func loadAndOpen(f flags) (config.Config, store.Store, error) {
	cfg, err := loadConfig(f)
	if err != nil {
		return cfg, nil, err
	}
	db, err := openStore(cfg, false)
	return cfg, db, err
}
