package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/kpolicy/aggregator/internal/app"
	"github.com/kpolicy/aggregator/internal/feed"
)

// runFetch polls every enabled source once (with SOURCE ids, only those,
// disabled or not), each with its backoff reset, and prints one line per
// source and a summary. When a running server holds the database it asks
// that server to poll (POST /admin/poll) and prints its answer the same
// way. It exits 1 when any source failed.
func runFetch(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var f flags
	fs := newFlagSet("fetch", getenv, stderr, &f, true, false)
	fs.StringVar(&f.addr, "addr", getenv("AGGREGATOR_ADDR"), addrUsage)
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: aggregator fetch [FLAGS] [SOURCE…]\n\nPolls every enabled source now, or only the SOURCE ids given.\n\n"+
			"Flags (each defaults from the environment variable named):\n")
		fs.PrintDefaults()
	}
	if err := parseFlagsArgs(fs, args); err != nil {
		return err
	}
	ids := fs.Args()
	cfg, err := loadConfig(f)
	if err != nil {
		return err
	}
	sources, err := app.SelectSources(cfg, ids)
	if err != nil {
		return fmt.Errorf("%w: %s", errUsage, feed.ErrorMessage(err))
	}
	var polled []app.Polled
	db, err := openStore(cfg, false)
	if err != nil {
		r, err := reach(cfg, getenv, err)
		if err != nil {
			return err
		}
		if err := r.call(ctx, "POST", "/admin/poll", url.Values{"source": ids}, nil, &polled); err != nil {
			return err
		}
	} else {
		defer db.Close()
		polled = app.PollSources(ctx, app.NewPoller(cfg, app.NewClient(cfg, nil), db, nil, nil), db, sources)
	}
	return printFetch(stdout, polled)
}

// printFetch prints what fetch prints of polls: the table, the warnings
// and the summary; errReported when any poll failed.
func printFetch(w io.Writer, polled []app.Polled) error {
	failed, retired := printResults(w, polled)
	var added, updated, merged int
	for _, r := range polled {
		added += r.Counts.New
		updated += r.Counts.Updated
		merged += r.Counts.Merged
		if r.Warning != "" {
			fmt.Fprintf(w, "warning: %s: %s\n", r.SourceID, r.Warning)
		}
	}
	fmt.Fprintf(w, "%d sources polled, %d failed, %d new items, %d updated, %d merged into other sources' stories", len(polled)-retired, failed, added, updated, merged)
	if retired > 0 {
		fmt.Fprintf(w, ", %d retired (not polled)", retired)
	}
	fmt.Fprintln(w)
	if failed > 0 {
		return fmt.Errorf("%w: %d of %d sources failed", errReported, failed, len(polled))
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
func printResults(w io.Writer, results []app.Polled) (failed, retired int) {
	header := []string{"SOURCE", "STATUS", "NEW", "UPD", "SAME", "ITEMS", "ERRS", "LAST SUCCESS", "NEXT POLL"}
	right := []bool{false, false, true, true, true, true, true, false, false}
	rows := [][]string{header}
	var details [][3]string // URL line, discovery line, note line
	var errs []string
	for _, r := range results {
		st := r.State
		status := "-"
		if r.Status != 0 {
			status = fmt.Sprint(r.Status)
		}
		note := r.Warning
		switch {
		case r.Error != "":
			failed++
			note = r.Error
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
	notes := make([][]string, len(details))
	for i, d := range details {
		notes[i] = d[:]
	}
	writeTable(w, rows, right, notes)
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
