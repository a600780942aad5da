package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/fetch"
)

// runFetch polls every enabled source once and prints one line per source
// and a summary. It exits 1 when any source failed.
func runFetch(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var f flags
	fs := newFlagSet("fetch", getenv, stderr, &f, true, false)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, db, err := loadAndOpen(f)
	if err != nil {
		return err
	}
	defer db.Close()

	results := newPoller(cfg, db, nil).PollAll(ctx, cfg.Sources)
	failed, retired := printResults(stdout, results, func(id string) (feed.SourceState, error) {
		return db.State(context.WithoutCancel(ctx), id)
	})
	var added, updated int
	for _, r := range results {
		added += r.Counts.New
		updated += r.Counts.Updated
	}
	merged := 0
	for _, r := range results {
		merged += r.Counts.Merged
		if r.Warning != "" {
			fmt.Fprintf(stdout, "warning: %s: %s\n", r.SourceID, r.Warning)
		}
	}
	fmt.Fprintf(stdout, "%d sources polled, %d failed, %d new items, %d updated, %d merged into other sources' stories", len(results)-retired, failed, added, updated, merged)
	if retired > 0 {
		fmt.Fprintf(stdout, ", %d retired (not polled)", retired)
	}
	fmt.Fprintln(stdout)
	if failed > 0 {
		return fmt.Errorf("%w: %d of %d sources failed", errReported, failed, len(results))
	}
	return nil
}

// printResults writes one line per result: what this poll did, then what
// the source's saved state holds (items, consecutive errors, last success,
// next poll, validators, URL polled), then the error or a note. It returns
// how many polls failed and how many sources are retired and were not
// polled.
func printResults(w io.Writer, results []fetch.Result, state func(string) (feed.SourceState, error)) (failed, retired int) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tSTATUS\tNEW\tUPDATED\tUNCHANGED\tITEMS\tERRORS\tLAST SUCCESS\tNEXT POLL\tVALIDATORS\tURL\tERROR / NOTE")
	for _, r := range results {
		st, err := state(r.SourceID)
		if err != nil {
			st = feed.SourceState{SourceID: r.SourceID}
		}
		status := "-"
		if r.Status != 0 {
			status = fmt.Sprint(r.Status)
		}
		note := r.Warning
		switch {
		case r.Err != nil:
			failed++
			note = r.Err.Error()
			if r.Warning != "" {
				note += " (" + r.Warning + ")"
			}
		case r.Retired:
			retired++
			status = "retired"
		case r.NotModified:
			note = "not modified"
		case r.Skipped:
			note = "body unchanged, not parsed"
		}
		url := r.URL
		if url == "" {
			url = st.URL
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\n", r.SourceID, status,
			r.Counts.New, r.Counts.Updated, r.Counts.Unchanged, st.Items, st.Errors,
			shortTime(st.LastSuccess), shortTime(r.NextPoll), validators(st), url, note)
	}
	tw.Flush()
	return failed, retired
}

func shortTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04Z")
}

// validators names the validators a state holds for the next conditional GET.
func validators(st feed.SourceState) string {
	switch {
	case st.ETag != "" && st.LastModified != "":
		return "ETag+Last-Modified"
	case st.ETag != "":
		return "ETag"
	case st.LastModified != "":
		return "Last-Modified"
	}
	return "-"
}
