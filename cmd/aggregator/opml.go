package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kpolicy/aggregator/internal/config"
	"github.com/kpolicy/aggregator/internal/publish"
)

// runOPML is "aggregator opml export" and "aggregator opml import FILE".
func runOPML(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "export" && args[0] != "import") {
		fmt.Fprint(stderr, "Usage: aggregator opml export [-config FILE]\n       aggregator opml import [-config FILE] FILE\n")
		return fmt.Errorf("%w: opml needs export or import", errUsage)
	}
	sub, args := args[0], args[1:]
	var f flags
	fs := newFlagSet("opml "+sub, getenv, stderr, &f, false, false)
	rest, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if sub == "export" {
		if len(rest) > 0 {
			return fmt.Errorf("%w: unexpected argument %q", errUsage, rest[0])
		}
		cfg, err := config.Load(f.config)
		if err != nil {
			return err
		}
		body, err := publish.OPML(cfg.Sources, "Sources of "+cfg.Server.BaseURL, nil, time.Now())
		if err != nil {
			return err
		}
		_, err = stdout.Write(body)
		return err
	}

	if len(rest) != 1 {
		return fmt.Errorf("%w: opml import needs one FILE (OPML or CSV)", errUsage)
	}
	file := rest[0]
	cfg, err := config.Load(f.config)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s must be valid to tell duplicates: %w", f.config, err)
		}
		fmt.Fprintf(stderr, "note: %s not found; duplicates of existing sources are not checked\n", f.config)
	}
	in, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	defer in.Close()
	name := filepath.Base(file)
	var im config.Import
	if strings.EqualFold(filepath.Ext(file), ".csv") {
		im, err = config.ImportCSV(in, name, cfg.Sources)
	} else {
		im, err = config.ImportOPML(in, name, cfg.Sources)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "# %d sources from %s: paste them under \"sources:\" in %s, then run aggregator check.\n",
		len(im.Sources), name, f.config)
	fmt.Fprint(stdout, config.FormatSources(im.Sources))
	for _, n := range im.Notes {
		fmt.Fprintf(stdout, "# %s\n", n)
	}
	return nil
}

// parseArgs parses flags that may come before or after positional
// arguments ("preview nk -config x.yaml") and returns the positionals.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := parseFlagsArgs(fs, args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return rest, nil
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
