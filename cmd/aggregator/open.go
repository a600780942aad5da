package main

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/kpolicy/aggregator/internal/config"
	"github.com/kpolicy/aggregator/internal/store"
	"github.com/kpolicy/aggregator/internal/store/bolt"
)

// errNoPostgres is a storage location naming a PostgreSQL database, which
// this version has no backend for.
var errNoPostgres = fmt.Errorf("PostgreSQL storage is not built in this version (%w): "+
	"give storage.path or -db a file path for the embedded bbolt store", errors.ErrUnsupported)

// isPostgres reports whether a storage location (storage.path, -db) names a
// PostgreSQL database, by its form: a postgres:// or postgresql:// URL.
// Anything else is a bbolt file path. It is the one place that tells the
// two apart.
func isPostgres(loc string) bool {
	l := strings.ToLower(strings.TrimSpace(loc))
	return strings.HasPrefix(l, "postgres://") || strings.HasPrefix(l, "postgresql://")
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
		return nil, fmt.Errorf("open %s: %w", redacted(loc), errNoPostgres)
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
		return 0, 0, fmt.Errorf("compact %s: %w (PostgreSQL compacts itself: VACUUM)", redacted(loc), errNoPostgres)
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
