package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/kpolicy/aggregator/internal/app"
	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/fetch"
	"github.com/kpolicy/aggregator/internal/parse"
)

// summaryRunes is how much of a summary preview-source shows.
const summaryRunes = 200

// runPreviewSource fetches one source with the poller's client and prints
// what the parser makes of it (for a scraped page, what its selectors
// extract), then the problems. It stores nothing and opens no database, so
// it runs beside serve. It exits 1 when the poll would fail.
func runPreviewSource(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var f flags
	fs := newFlagSet("preview-source", getenv, stderr, &f, false, false)
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: aggregator preview-source SOURCE [-config FILE]\n\n"+
			"Fetches the source as a poll would and shows what its feed or scrape selectors give.\n\n"+
			"Flags (each defaults from the environment variable named):\n")
		fs.PrintDefaults()
	}
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return fmt.Errorf("%w: preview-source needs one SOURCE id", errUsage)
	}
	cfg, err := loadConfig(f)
	if err != nil {
		return err
	}
	src, ok := cfg.Source(rest[0])
	if !ok {
		var ids []string
		for _, s := range cfg.Sources {
			ids = append(ids, s.ID)
		}
		return fmt.Errorf("%w: %s has no source %q (sources: %s)", errUsage, f.config, rest[0], clipList(ids, 20))
	}

	client := app.NewClient(cfg, nil)
	defer client.CloseIdleConnections()
	resp, err := client.Get(ctx, fetch.Request{URL: src.URL})
	if err != nil {
		fmt.Fprintf(stdout, "problems:\n  %v\n", err)
		return fmt.Errorf("%w: %s could not be fetched", errReported, src.ID)
	}
	fmt.Fprintf(stdout, "fetched %s: %d, %s bytes, %s\n", resp.URL, resp.Status, thousands(len(resp.Body)), orDash(resp.ContentType))
	parseCtx, cancel := context.WithTimeout(ctx, client.Timeout()) // as a poll's parse
	defer cancel()
	parsed, err := parse.New().ParseSourceContext(parseCtx, resp.Body, resp.ContentType, resp.URL, src)
	if err != nil {
		fmt.Fprintf(stdout, "problems:\n  %v\n", err)
		return fmt.Errorf("%w: a poll of %s would fail", errReported, src.ID)
	}
	kind := parsed.Type
	if parsed.Language != "" {
		kind += ", " + parsed.Language
	}
	fmt.Fprintf(stdout, "page %q (%s): %d items\n", parsed.Title, kind, len(parsed.Items))
	for i, it := range parsed.Items {
		printPreviewItem(stdout, i+1, it)
	}
	fmt.Fprintln(stdout)
	if parsed.Warning == "" {
		fmt.Fprintln(stdout, "problems: none")
		return nil
	}
	fmt.Fprintln(stdout, "problems:")
	for _, w := range strings.Split(parsed.Warning, "; ") {
		fmt.Fprintf(stdout, "  %s\n", w)
	}
	return nil
}

// printPreviewItem writes one item as a block.
func printPreviewItem(w io.Writer, n int, it feed.Item) {
	fmt.Fprintf(w, "\n%d. %s\n", n, it.Title)
	fmt.Fprintf(w, "   link:    %s\n", it.Link)
	if it.Dated {
		fmt.Fprintf(w, "   date:    %s\n", it.Published.UTC().Format("2006-01-02 15:04 MST"))
	} else {
		fmt.Fprintf(w, "   date:    no date: first-seen time\n")
	}
	if len(it.Authors) > 0 {
		var names []string
		for _, a := range it.Authors {
			names = append(names, a.Name)
		}
		fmt.Fprintf(w, "   author:  %s\n", strings.Join(names, ", "))
	}
	if s := parse.PlainText(it.Summary); s != "" {
		fmt.Fprintf(w, "   summary: %s\n", clipRunes(s, summaryRunes))
	}
}

func clipRunes(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// clipList joins the first n of ss, saying how many more there are.
func clipList(ss []string, n int) string {
	if len(ss) <= n {
		return strings.Join(ss, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(ss[:n], ", "), len(ss)-n)
}

// thousands writes n with comma separators: 48,213.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
