package main

import (
	"errors"
	"fmt"

	"github.com/kpolicy/aggregator/internal/config"
	"github.com/kpolicy/aggregator/internal/store"
)

// openStore opens the database the config names, with its size cap. An
// error says what to do next when the operator has to act: a damaged file
// is to be restored or moved aside, a locked one means another aggregator.
func openStore(cfg config.Config) (*store.DB, error) {
	db, err := store.Open(cfg.Storage.Path, store.Options{MaxSize: cfg.Storage.MaxSize, TitleWindow: cfg.Dedupe.TitleWindow})
	switch {
	case errors.Is(err, store.ErrCorrupt):
		return nil, fmt.Errorf("%w\n  the file cannot be used as it is: restore it from a backup (aggregator backup), "+
			"or move it aside to start with an empty database (mv %s %s.damaged)", err, cfg.Storage.Path, cfg.Storage.Path)
	case errors.Is(err, store.ErrLocked):
		return nil, fmt.Errorf("%w\n  stop the other aggregator, or give this one another database with -db", err)
	}
	return db, err
}

// loadAndOpen reads the config, applies the command-line overrides and
// opens its database: the start of every command that works on the store.
func loadAndOpen(f flags) (config.Config, *store.DB, error) {
	cfg, err := loadConfig(f)
	if err != nil {
		return cfg, nil, err
	}
	db, err := openStore(cfg)
	return cfg, db, err
}
