package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kpolicy/aggregator/internal/app"
	"github.com/kpolicy/aggregator/internal/config"
	"github.com/kpolicy/aggregator/internal/feed"
)

// runPreview shows what a channel would contain with the config given by
// -config, against the current store opened read-only, and what changes
// against the running config (AGGREGATOR_CONFIG, else feeds.yaml). When a
// running server holds the database it posts the config to that server
// (POST /admin/preview), which compares it with the config it runs, and
// prints the answer the same way.
func runPreview(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var f flags
	fs := newFlagSet("preview", getenv, stderr, &f, true, false)
	fs.StringVar(&f.addr, "addr", getenv("AGGREGATOR_ADDR"), addrUsage)
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: aggregator preview CHANNEL [-config FILE] [-db PATH] [-addr ADDR]\n\nFlags (each defaults from the environment variable named):\n")
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
	compare := !same(running, f.config)

	cfg, err := loadConfig(f)
	if err != nil {
		return err
	}
	if _, ok := cfg.Channel(id); !ok {
		var ids []string
		for _, c := range cfg.Channels {
			ids = append(ids, c.ID)
		}
		return fmt.Errorf("%w: %s has no channel %q (channels: %s)", errUsage, f.config, id, strings.Join(ids, ", "))
	}
	var res app.PreviewResult
	db, err := openStore(cfg, true)
	if err != nil {
		r, err := reach(cfg, getenv, err)
		if err != nil {
			return fmt.Errorf("preview needs the database read-only; stop serve, point -db at a copy, or give the running server's admin token: %w", err)
		}
		body, err := os.ReadFile(f.config)
		if err != nil {
			return fmt.Errorf("preview: %w", err)
		}
		q := url.Values{"channel": {id}, "file": {f.config}}
		if compare {
			q.Set("compare", "1")
		}
		if err := r.call(ctx, "POST", "/admin/preview", q, body, &res); err != nil {
			return err
		}
	} else {
		defer db.Close()
		req := app.PreviewRequest{Config: cfg, File: f.config, Channel: id}
		if compare {
			old, err := config.Load(running)
			req.Running, req.RunningFile, req.RunningErr = &old, running, err
		}
		if res, err = app.Preview(ctx, db, req, time.Now()); err != nil {
			return err
		}
	}
	printPreview(stdout, res)
	return nil
}

// printPreview prints what preview prints of a preview: the channel's
// items, those left out with why, and the changes against the running
// config.
func printPreview(w io.Writer, res app.PreviewResult) {
	fmt.Fprintf(w, "channel %s %q with %s: %d items (%d pinned, limit %d; %d members in all)\n",
		res.Channel, res.Title, res.File, len(res.Items), res.Pinned, res.Limit, res.Total)
	for i, it := range res.Items {
		mark := "       "
		if i < res.Pinned {
			mark = "pinned "
		}
		fmt.Fprintf(w, "  %s%s\n", mark, itemLine(it))
	}
	if res.DroppedTotal > 0 {
		fmt.Fprintf(w, "not in the channel (%d):\n", res.DroppedTotal)
		for _, d := range res.Dropped {
			fmt.Fprintf(w, "  %s\n      %s\n", itemLine(d.Item), d.Reason)
		}
		if more := res.DroppedTotal - len(res.Dropped); more > 0 {
			fmt.Fprintf(w, "  … %d more\n", more)
		}
	}
	d := res.Against
	switch {
	case d == nil:
	case d.LoadError != "":
		fmt.Fprintf(w, "no comparison: the running config %s does not load: %s\n", d.File, d.LoadError)
	case d.New:
		fmt.Fprintf(w, "changes against the running config %s: the channel is new\n", d.File)
	default:
		fmt.Fprintf(w, "changes against the running config %s: %d\n", d.File, len(d.Changes))
		for _, c := range d.Changes {
			if c.Added {
				extra := ""
				if c.Pinned {
					extra = " (pinned now)"
				}
				fmt.Fprintf(w, "  + %s%s\n      was: %s\n", itemLine(c.Item), extra, c.Why)
			} else {
				fmt.Fprintf(w, "  - %s\n      now: %s\n", itemLine(c.Item), c.Why)
			}
		}
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
