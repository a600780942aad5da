package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/kpolicy/aggregator/internal/app"
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

	results := app.NewPoller(cfg, app.NewClient(cfg, nil), db, nil, nil).PollAll(ctx, cfg.Sources)
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

// printResults writes a table of tableWidth columns, one row per result:
// what this poll did and what the source's saved state holds (items,
// consecutive errors, last success, next poll); under each row, indented,
// the URL polled with the validators kept for the next conditional GET,
// the page it was discovered on (autodiscovery), then the error or a note,
// all clipped to the table's width. Then every
// error in full, as "error: poll SOURCE: …" lines. It returns how many polls failed and how many sources are
// retired and were not polled.
func printResults(w io.Writer, results []fetch.Result, state func(string) (feed.SourceState, error)) (failed, retired int) {
	header := []string{"SOURCE", "STATUS", "NEW", "UPD", "SAME", "ITEMS", "ERRS", "LAST SUCCESS", "NEXT POLL"}
	right := []bool{false, false, true, true, true, true, true, false, false}
	rows := [][]string{header}
	var details [][3]string // URL line, discovery line, note line
	var errs []string
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
			errs = append(errs, note) // it names the poll and the source
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
		rows = append(rows, []string{clip(r.SourceID, 20), status,
			fmt.Sprint(r.Counts.New), fmt.Sprint(r.Counts.Updated), fmt.Sprint(r.Counts.Unchanged),
			fmt.Sprint(st.Items), fmt.Sprint(st.Errors), shortTime(st.LastSuccess), shortTime(r.NextPoll)})
		kept := ""
		if v := validators(st); v != "" {
			kept = " (" + v + ")"
		}
		discovered := ""
		if st.DiscoveredURL != "" && st.ConfiguredURL != "" {
			discovered = "  " + clip("feed discovered on "+st.ConfiguredURL, tableWidth-2)
		}
		details = append(details, [3]string{
			"  " + clip(url, tableWidth-2-displayWidth(kept)) + kept,
			discovered,
			"  " + clip(note, tableWidth-2)})
	}
	cols := make([]int, len(header))
	for _, row := range rows {
		for i, cell := range row {
			cols[i] = max(cols[i], displayWidth(cell))
		}
	}
	for i, row := range rows {
		var b strings.Builder
		for j, cell := range row {
			if j > 0 {
				b.WriteString("  ")
			}
			if right[j] {
				b.WriteString(padLeft(cell, cols[j]))
			} else {
				b.WriteString(padRight(cell, cols[j]))
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
		if i == 0 {
			continue
		}
		fmt.Fprintln(w, details[i-1][0])
		for _, line := range details[i-1][1:] {
			if strings.TrimSpace(line) != "" {
				fmt.Fprintln(w, line)
			}
		}
	}
	for _, e := range errs { // errors.Join's lines joined again, one line each
		fmt.Fprintln(w, "error:", strings.ReplaceAll(e, "\n", "; "))
	}
	return failed, retired
}

// shortTime is t in UTC to the minute, without the year.
func shortTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("01-02 15:04Z")
}

// validators names the validators a state holds for the next conditional
// GET; "" when it holds none.
func validators(st feed.SourceState) string {
	switch {
	case st.ETag != "" && st.LastModified != "":
		return "ETag, Last-Modified"
	case st.ETag != "":
		return "ETag"
	case st.LastModified != "":
		return "Last-Modified"
	}
	return ""
}
