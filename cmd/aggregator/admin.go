package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/kpolicy/aggregator/internal/app"
	"github.com/kpolicy/aggregator/internal/store"
)

// runBackup writes a consistent copy of the database to FILE ("-": standard
// output). It opens the database itself, so it runs while no aggregator
// holds the file; a running server is backed up through GET /admin/backup.
func runBackup(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var f flags
	fs := newFlagSet("backup", getenv, stderr, &f, true, false)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: aggregator backup [FLAGS] FILE\n\nWrites a consistent copy of the database to FILE (- for standard output).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := parseFlagsArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("%w: backup needs one FILE", errUsage)
	}
	dst := fs.Arg(0)
	cfg, db, err := loadAndOpen(f)
	if err != nil {
		return err
	}
	defer db.Close()
	b, ok := db.(store.Backuper)
	if !ok {
		return fmt.Errorf("backup %s: %w: back it up with its own tools", redacted(cfg.Storage.Path), errors.ErrUnsupported)
	}
	ctx := context.Background()
	if dst == "-" {
		_, err := b.Backup(ctx, stdout)
		return err
	}
	// Write beside the target and rename, so FILE is never half a backup.
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".backup-*")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer os.Remove(tmp.Name())
	n, err := b.Backup(ctx, tmp)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), dst)
	}
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	fmt.Fprintf(stdout, "backed up %s to %s (%d bytes)\n", cfg.Storage.Path, dst, n)
	return nil
}

// runCompact rewrites the database densely (bbolt's compaction) into a new
// file and puts it in place of the old one. The aggregator must be stopped:
// the file lock makes this fail otherwise.
func runCompact(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var f flags
	fs := newFlagSet("compact", getenv, stderr, &f, true, false)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(f)
	if err != nil {
		return err
	}
	path := cfg.Storage.Path
	tmp := path + ".compact"
	_ = os.Remove(tmp) // left over from an interrupted run
	before, after, err := compactStore(path, tmp)
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	fmt.Fprintf(stdout, "compacted %s: %d → %d bytes\n", path, before, after)
	return nil
}

// runReindex deletes the search index and builds it again from every
// stored item. The aggregator must be stopped.
func runReindex(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var f flags
	fs := newFlagSet("reindex", getenv, stderr, &f, true, false)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, db, err := loadAndOpen(f)
	if err != nil {
		return err
	}
	defer db.Close()
	n, err := app.Reindex(ctx, cfg, db)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "indexed %d items into %s\n", n, app.SearchPath(cfg.Storage))
	return nil
}
