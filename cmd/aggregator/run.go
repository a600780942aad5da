package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/kpolicy/aggregator/internal/config"
	"github.com/kpolicy/aggregator/internal/logging"
)

// errUsage marks a command-line mistake (exit status 2).
var errUsage = errors.New("usage")

// errReported marks a failure whose details were already printed (exit status 1).
var errReported = errors.New("failed")

// loggedError is an error serve already wrote to its JSON log: main does
// not print it again as a plain line, so that with -log-format json every
// line on stderr is JSON.
type loggedError struct{ error }

func (e loggedError) Unwrap() error { return e.error }

// logFailure logs err, serve's reason to stop, when the log is JSON and
// marks it logged; text logs leave it to main's "aggregator: …" line.
func logFailure(log *slog.Logger, format string, err error) error {
	if err == nil || format != logging.FormatJSON {
		return err
	}
	log.Error("serve stopped", "err", err)
	return loggedError{err}
}

// printed reports whether main must print err: not when serve logged it.
func printed(err error) bool {
	var le loggedError
	return !errors.As(err, &le)
}

func exitCode(err error) int {
	if errors.Is(err, errUsage) {
		return 2
	}
	return 1
}

const usage = `Usage: aggregator [COMMAND] [FLAGS]

Commands:
  serve   serve HTTP and poll sources in the background (the default)
  fetch [SOURCE…]
          poll every enabled source (or those named) now, print one line per source, exit
  check   validate the config; exit 1 with every problem, 0 if clean
  status  the config and every source's state, failing first (what /status shows)
  explain ITEM  say how a stored item is identified and which sources' copies were merged into it
  preview show what a channel would contain with a config, and what changes
  preview-source SOURCE
          fetch one source and show what its feed or scrape selectors give
  opml    "opml export" prints the sources as OPML; "opml import FILE" prints
          feeds.yaml entries for an OPML or CSV list of feeds
  discover URL
          list the feeds a web page links to
  backup  write a consistent copy of the database to FILE
  compact rewrite the database densely (aggregator stopped)
  reindex rebuild the search index from the store (aggregator stopped)
  mail    "mail export CHANNEL" prints a mailing list as CSV; "mail remove
          ADDRESS" erases an address from every list
  migrate copy a store into an empty PostgreSQL database, verified (-from FILE -to URL)

Run "aggregator COMMAND -help" for the flags of a command.
`

// run is the whole program; main only supplies the process's context,
// arguments, environment and output streams, so tests can run it in-process.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && (!strings.HasPrefix(args[0], "-") || args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = runServe(ctx, args, getenv, stdout, stderr)
	case "fetch":
		err = runFetch(ctx, args, getenv, stdout, stderr)
	case "check":
		err = runCheck(args, getenv, stdout, stderr)
	case "status":
		err = runStatus(ctx, args, getenv, stdout, stderr)
	case "explain":
		err = runExplain(ctx, args, getenv, stdout, stderr)
	case "preview":
		err = runPreview(ctx, args, getenv, stdout, stderr)
	case "preview-source":
		err = runPreviewSource(ctx, args, getenv, stdout, stderr)
	case "opml":
		err = runOPML(args, getenv, stdout, stderr)
	case "discover":
		err = runDiscover(ctx, args, getenv, stdout, stderr)
	case "backup":
		err = runBackup(args, getenv, stdout, stderr)
	case "compact":
		err = runCompact(args, getenv, stdout, stderr)
	case "reindex":
		err = runReindex(ctx, args, getenv, stdout, stderr)
	case "mail":
		err = runMail(ctx, args, getenv, stdout, stderr)
	case "migrate":
		err = runMigrate(ctx, args, getenv, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprint(stderr, usage)
		err = fmt.Errorf("%w: unknown command %q", errUsage, cmd)
	}
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}

// flags are the options shared by the commands. Each defaults from an
// environment variable, then from the config file.
type flags struct {
	config string
	db     string
	addr   string
}

func newFlagSet(name string, getenv func(string) string, stderr io.Writer, f *flags, withDB, withAddr bool) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.config, "config", envOr(getenv, "AGGREGATOR_CONFIG", "feeds.yaml"), "config file (env AGGREGATOR_CONFIG)")
	if withDB {
		fs.StringVar(&f.db, "db", getenv("AGGREGATOR_DB"), "database file, overrides storage.path (env AGGREGATOR_DB)")
	}
	if withAddr {
		fs.StringVar(&f.addr, "addr", getenv("AGGREGATOR_ADDR"), "listen address, overrides server.listen (env AGGREGATOR_ADDR)")
	}
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: aggregator %s [FLAGS]\n\nFlags (each defaults from the environment variable named):\n", name)
		fs.PrintDefaults()
	}
	return fs
}

// errHelp reports that -help was given and answered: the command exits 0.
var errHelp = errors.New("help shown")

// parseFlags parses a command's flags and refuses positional arguments.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := parseFlagsArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	return nil
}

// parseFlagsArgs parses a command's flags and leaves its positional
// arguments in fs.Args(): errHelp after -help, errUsage for a bad flag.
func parseFlagsArgs(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return nil
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

// loadConfig reads the config and applies the command-line overrides.
func loadConfig(f flags) (config.Config, error) {
	cfg, err := config.Load(f.config)
	if err != nil {
		return cfg, err
	}
	if f.db != "" {
		cfg.Storage.Path = f.db
	}
	if f.addr != "" {
		cfg.Server.Listen = f.addr
	}
	return cfg, nil
}
