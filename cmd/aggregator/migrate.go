package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/kpolicy/aggregator/internal/config"
	"github.com/kpolicy/aggregator/internal/store/migrate"
)

// runMigrate copies the store at -from into the empty store at -to
// (internal/store/migrate) and prints, for each kind of record, the
// counts and checksums of both after the copy; a difference exits 1. Both
// aggregators must be stopped: the source is opened read-only, and a
// bbolt file that a server holds is refused.
func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", getenv("AGGREGATOR_DB"), "the store to copy: a bbolt file or a postgres:// URL (env AGGREGATOR_DB)")
	to := fs.String("to", "", "the empty store to copy into: a postgres:// URL")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: aggregator migrate -from FILE -to URL\n\n"+
			"Copies every story, deletion, alias, tombstone, source state, WebSub subscription and\n"+
			"subscriber statistic into an empty PostgreSQL database (or schema), then prints each kind's\n"+
			"count and checksum in both; exits 1 if they differ. Membership indexes are built by the\n"+
			"target's first serve; its search index too.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *from == "" || *to == "" {
		fs.Usage()
		return fmt.Errorf("%w: migrate needs -from and -to", errUsage)
	}
	src, err := openStore(config.Config{Storage: config.Storage{Path: *from}}, true)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := openStore(config.Config{Storage: config.Storage{Path: *to}}, false)
	if err != nil {
		return err
	}
	defer dst.Close()
	rep, err := migrate.Run(ctx, src, dst, nil)
	if err != nil && !errors.Is(err, migrate.ErrMismatch) {
		return fmt.Errorf("migrate %s to %s: %w", redacted(*from), redacted(*to), err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "kind\tsource\ttarget\tchecksum\t\n")
	for _, k := range rep.Kinds {
		sum := k.SourceSum[:16]
		if !k.Match() {
			sum += " ≠ " + k.TargetSum[:16]
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t\n", k.Name, k.Source, k.Target, sum)
	}
	tw.Flush()
	if err != nil {
		return fmt.Errorf("migrate %s to %s: %w", redacted(*from), redacted(*to), err)
	}
	fmt.Fprintf(stdout, "copied %s to %s: every kind matches\n", redacted(*from), redacted(*to))
	return nil
}
