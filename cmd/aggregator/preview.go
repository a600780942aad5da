package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/kpolicy/aggregator/internal/config"
	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/membership"
)

// maxDroppedShown bounds the list of items not in the channel preview prints.
const maxDroppedShown = 50

// runPreview shows what a channel would contain with the config given by
// -config, against the current store opened read-only, and what changes
// against the running config (AGGREGATOR_CONFIG, else feeds.yaml).
func runPreview(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var f flags
	fs := newFlagSet("preview", getenv, stderr, &f, true, false)
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: aggregator preview CHANNEL [-config FILE] [-db PATH]\n\nFlags (each defaults from the environment variable named):\n")
		fs.PrintDefaults()
	}
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return fmt.Errorf("%w: preview needs one CHANNEL id", errUsage)
	}
	id := rest[0]
	running := envOr(getenv, "AGGREGATOR_CONFIG", "feeds.yaml")

	cfg, err := loadConfig(f)
	if err != nil {
		return err
	}
	ch, ok := cfg.Channel(id)
	if !ok {
		var ids []string
		for _, c := range cfg.Channels {
			ids = append(ids, c.ID)
		}
		return fmt.Errorf("%w: %s has no channel %q (channels: %s)", errUsage, f.config, id, strings.Join(ids, ", "))
	}
	db, err := openStore(cfg, true)
	if err != nil {
		return fmt.Errorf("preview needs the database read-only; stop serve or point -db at a copy: %w", err)
	}
	defer db.Close()

	now := time.Now()
	sel, err := membership.Preview(context.Background(), db, ch, cfg.Sources, now)
	if err != nil {
		return err
	}
	shown := sel.Members[:min(len(sel.Members), ch.Limit)]
	fmt.Fprintf(stdout, "channel %s %q with %s: %d items (%d pinned, limit %d; %d members in all)\n",
		ch.ID, ch.Title, f.config, len(shown), min(sel.Pinned, len(shown)), ch.Limit, len(sel.Members))
	for i, it := range shown {
		mark := "       "
		if i < sel.Pinned {
			mark = "pinned "
		}
		fmt.Fprintf(stdout, "  %s%s\n", mark, itemLine(it))
	}
	if len(sel.Dropped) > 0 {
		fmt.Fprintf(stdout, "not in the channel (%d):\n", len(sel.Dropped))
		for i, d := range sel.Dropped {
			if i == maxDroppedShown {
				fmt.Fprintf(stdout, "  … %d more\n", len(sel.Dropped)-i)
				break
			}
			fmt.Fprintf(stdout, "  %s\n      %s\n", itemLine(d.Item), d.Reason)
		}
	}

	if same(running, f.config) {
		return nil
	}
	old, err := config.Load(running)
	if err != nil {
		fmt.Fprintf(stdout, "no comparison: the running config %s does not load: %v\n", running, err)
		return nil
	}
	oldCh, ok := old.Channel(id)
	if !ok {
		fmt.Fprintf(stdout, "changes against the running config %s: the channel is new\n", running)
		return nil
	}
	oldSel, err := membership.Preview(context.Background(), db, oldCh, old.Sources, now)
	if err != nil {
		return err
	}
	printDiff(stdout, running, oldSel, oldCh.Limit, sel, ch.Limit)
	return nil
}

// printDiff lists the items the subscription documents gain and lose from
// old to sel, each with why it was not in the other.
func printDiff(w io.Writer, running string, old membership.Result, oldLimit int, sel membership.Result, limit int) {
	key := func(it feed.Item) string { return it.SourceID + "\x00" + it.Key }
	head := func(r membership.Result, n int) []feed.Item { return r.Members[:min(n, len(r.Members))] }
	in := func(items []feed.Item) map[string]bool {
		m := map[string]bool{}
		for _, it := range items {
			m[key(it)] = true
		}
		return m
	}
	why := func(r membership.Result, it feed.Item) string {
		for _, d := range r.Dropped {
			if key(d.Item) == key(it) {
				return d.Reason
			}
		}
		return "not among the newest items the channel shows (limit)"
	}
	oldHead, newHead := head(old, oldLimit), head(sel, limit)
	oldIn, newIn := in(oldHead), in(newHead)
	var lines []string
	for i, it := range newHead {
		if !oldIn[key(it)] {
			extra := ""
			if i < sel.Pinned {
				extra = " (pinned now)"
			}
			lines = append(lines, fmt.Sprintf("  + %s%s\n      was: %s", itemLine(it), extra, why(old, it)))
		}
	}
	for _, it := range oldHead {
		if !newIn[key(it)] {
			lines = append(lines, fmt.Sprintf("  - %s\n      now: %s", itemLine(it), why(sel, it)))
		}
	}
	fmt.Fprintf(w, "changes against the running config %s: %d\n", running, len(lines))
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
}

func itemLine(it feed.Item) string {
	title := it.Title
	if r := []rune(title); len(r) > 60 {
		title = string(r[:59]) + "…"
	}
	return fmt.Sprintf("%s  %-14s %s  <%s>", it.Sort().UTC().Format("2006-01-02 15:04"), it.SourceID, title, it.Link)
}

// same reports whether two config paths name the same file.
func same(a, b string) bool {
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == bb
}
