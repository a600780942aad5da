package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"

	"github.com/kpolicy/aggregator/internal/app"
	"github.com/kpolicy/aggregator/internal/config"
	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/fetch"
	"github.com/kpolicy/aggregator/internal/parse"
)

// runDiscover fetches one page and lists the feeds it announces with
// <link rel="alternate">, best first (parse.RankFeeds: the first is the one
// the poller follows from a source configured with this URL), or says that
// the URL is itself a feed. It exits 1 when the page names no feed.
func runDiscover(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var f flags
	fs := newFlagSet("discover", getenv, stderr, &f, false, false)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: aggregator discover [FLAGS] URL\n\nLists the feeds a web page links to, best first: the first is the one\nthe poller follows when a source's url is this page. The config supplies the User-Agent,\ntimeout, body limit and allow_private_networks; without one, the defaults.\n\nFlags (each defaults from the environment variable named):\n")
		fs.PrintDefaults()
	}
	if err := parseFlagsArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("%w: discover takes one URL", errUsage)
	}
	page := fs.Arg(0)
	explicit := getenv("AGGREGATOR_CONFIG") != ""
	fs.Visit(func(fl *flag.Flag) { explicit = explicit || fl.Name == "config" })
	cfg, err := discoverConfig(f.config, explicit)
	if err != nil {
		return err
	}

	client := app.NewClient(cfg, nil)
	defer client.CloseIdleConnections()
	resp, err := client.Get(ctx, fetch.Request{URL: page})
	if err != nil {
		return fmt.Errorf("discover: %w", err)
	}
	// The parse gets the fetch timeout of its own, as a poll's does.
	parseCtx, cancel := context.WithTimeout(ctx, client.Timeout())
	defer cancel()
	parsed, err := parse.New().ParseSourceContext(parseCtx, resp.Body, resp.ContentType, resp.URL, feed.Source{ID: "discover"})
	var nf *parse.NotFeedError
	switch {
	case err == nil:
		fmt.Fprintf(stdout, "%s is itself a feed (%s", resp.URL, parsed.Type)
		if parsed.Title != "" {
			fmt.Fprintf(stdout, ": %q", parsed.Title)
		}
		fmt.Fprintf(stdout, ", %d items)\n", len(parsed.Items))
		return nil
	case errors.As(err, &nf) && len(nf.FeedLinks) > 0:
		for _, l := range nf.FeedLinks {
			fmt.Fprintln(stdout, l)
		}
		return nil
	case errors.As(err, &nf):
		fmt.Fprintf(stderr, "%s links to no feed (%s)\n", resp.URL, nf.Reason)
		return fmt.Errorf("%w: no feed found", errReported)
	default:
		fmt.Fprintf(stderr, "%s looks like a feed but does not parse: %v\n", resp.URL, err)
		return fmt.Errorf("%w: no usable feed", errReported)
	}
}

// discoverConfig loads the config at path; a missing file that was not
// named explicitly means the defaults, so discover works outside a checkout.
func discoverConfig(path string, explicit bool) (config.Config, error) {
	cfg, err := config.Load(path)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		return config.Default(), nil
	}
	return cfg, err
}
