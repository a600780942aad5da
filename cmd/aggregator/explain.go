package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kpolicy/aggregator/internal/app"
	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/story"
)

// runExplain prints, for each stored story ITEM names (an item URL, an
// upstream id, or SOURCE/KEY), the story, its identity rule and key,
// every origin with the rule that merged it and when, and the reasons
// that apply to it, as a list.
func runExplain(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var f flags
	fs := newFlagSet("explain", getenv, stderr, &f, true, false)
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: aggregator explain [FLAGS] ITEM\n\n"+
			"ITEM is an item's URL, its upstream id (RSS guid, Atom id), or SOURCE/KEY as explain prints it.\n\n"+
			"Flags (each defaults from the environment variable named):\n")
		fs.PrintDefaults()
	}
	// ITEM may come before or after the flags.
	var item string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		item, args = args[0], args[1:]
	}
	if err := parseFlagsArgs(fs, args); err != nil {
		return err
	}
	switch rest := fs.Args(); {
	case item == "" && len(rest) == 1:
		item = rest[0]
	case item == "" && len(rest) == 0:
		fs.Usage()
		return fmt.Errorf("%w: explain needs an ITEM", errUsage)
	case len(rest) > 0:
		return fmt.Errorf("%w: unexpected argument %q", errUsage, rest[0])
	}
	cfg, err := loadConfig(f)
	if err != nil {
		return err
	}
	var found []app.Explanation
	db, err := openStore(cfg, false)
	if err != nil {
		r, rerr := reach(cfg, getenv, err)
		if rerr != nil {
			return rerr
		}
		err = r.call(ctx, "GET", "/admin/explain", url.Values{"item": {item}}, nil, &found)
	} else {
		defer db.Close()
		found, err = app.Explain(ctx, db, cfg, item)
	}
	if err != nil {
		if feed.ErrorCode(err) == feed.ENOTFOUND || feed.ErrorCode(err) == feed.EINVALID {
			fmt.Fprintln(stderr, feed.ErrorMessage(err))
			return fmt.Errorf("%w: %s", errReported, feed.ErrorMessage(err))
		}
		return err
	}
	for i, e := range found {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		writeExplanation(stdout, e)
	}
	return nil
}

// ruleText says what a merge rule means.
func ruleText(o feed.Origin) string {
	switch o.Rule {
	case story.RuleLink:
		return "merged by link: the same canonical link (" + feed.LinkKey(o.Link) + ")"
	case story.RuleTitle:
		return "merged by title: the same title once case, punctuation, spacing and width are folded, within dedupe.title_window"
	}
	return "merged by rule " + o.Rule
}

// writeExplanation prints what explain prints of one explained copy.
func writeExplanation(w io.Writer, e app.Explanation) {
	fd, s := e.Found, e.Found.Story
	how := map[string]string{"key": "by key", "id": "by upstream id", "link": "by link"}[fd.Match]
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "matched\t%s, as %s/%s\n", how, fd.SourceID, fd.Key)
	fmt.Fprintf(tw, "story\t%s/%s\n", s.SourceID, s.Key)
	fmt.Fprintf(tw, "title\t%s\n", s.Title)
	if s.Link != "" {
		fmt.Fprintf(tw, "link\t%s\n", s.Link)
	}
	if s.ID != "" {
		fmt.Fprintf(tw, "upstream id\t%s\n", s.ID)
	}
	published := stamp(s.Published)
	if !s.Dated {
		published += " (undated: when first seen)"
	}
	fmt.Fprintf(tw, "published\t%s\n", published)
	fmt.Fprintf(tw, "first seen\t%s\n", stamp(s.FirstSeen))
	fmt.Fprintf(tw, "updated\t%s\n", stamp(s.Updated))
	channels := strings.Join(e.Channels, ", ")
	if channels == "" {
		channels = "(none)"
	}
	fmt.Fprintf(tw, "channels\t%s\n", channels)
	tw.Flush()

	fmt.Fprintln(w, "origins:")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  1. %s\t%s\t%s\tfirst origin: stored and published under it\n", s.SourceID, s.Key, stamp(s.FirstSeen))
	for i, o := range s.Origins {
		fmt.Fprintf(tw, "  %d. %s\t%s\t%s\t%s\n", i+2, o.SourceID, o.Key, stamp(o.Seen), ruleText(o))
	}
	tw.Flush()

	fmt.Fprintln(w, "reasons:")
	for _, r := range e.Reasons {
		fmt.Fprintf(w, "  - %s: %s\n", r.Kind, r.Text)
	}
}

// stamp formats a time for explain: RFC 3339 in UTC, "-" for none.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
