package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
)

// runFetch polls every enabled source once and prints one line per source
// and a summary. It exits 1 when any source failed.
func runFetch(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var f flags
	fs := newFlagSet("fetch", getenv, stderr, &f, true, false)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(f)
	if err != nil {
		return err
	}
	db, err := openStore(cfg)
	if err != nil {
		return err
	}
	defer db.Close()

	results := newPoller(cfg, db, nil).PollAll(ctx, cfg.Sources)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tSTATUS\tNEW\tUPDATED\tUNCHANGED\tERROR")
	var failed, added, updated int
	for _, r := range results {
		status, errText := "-", ""
		if r.Status != 0 {
			status = fmt.Sprint(r.Status)
		}
		if r.Err != nil {
			failed++
			errText = r.Err.Error()
		}
		added += r.Counts.New
		updated += r.Counts.Updated
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\n", r.SourceID, status, r.Counts.New, r.Counts.Updated, r.Counts.Unchanged, errText)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "%d sources polled, %d failed, %d new items, %d updated\n", len(results), failed, added, updated)
	if failed > 0 {
		return fmt.Errorf("%w: %d of %d sources failed", errReported, failed, len(results))
	}
	return nil
}
