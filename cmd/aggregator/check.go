package main

import (
	"fmt"
	"io"

	"github.com/kpolicy/aggregator/internal/config"
)

// runCheck validates the config: every problem on stderr and exit 1, or a
// one-line summary (and any warnings) and exit 0.
func runCheck(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var f flags
	fs := newFlagSet("check", getenv, stderr, &f, false, false)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(f.config)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return fmt.Errorf("%w: %s is not valid", errReported, f.config)
	}
	for _, w := range cfg.Warnings() {
		fmt.Fprintln(stderr, "warning:", w)
	}
	fmt.Fprintf(stdout, "%s: ok (%d sources, %d channels)\n", f.config, len(cfg.Sources), len(cfg.Channels))
	return nil
}
