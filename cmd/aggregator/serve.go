package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/kpolicy/aggregator/internal/app"
	"github.com/kpolicy/aggregator/internal/config"
	"github.com/kpolicy/aggregator/internal/logging"
	"github.com/kpolicy/aggregator/internal/memlimit"
)

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) (err error) {
	var f flags
	fs := newFlagSet("serve", getenv, stderr, &f, true, true)
	logFormat := fs.String("log-format", envOr(getenv, "AGGREGATOR_LOG_FORMAT", "text"), "log lines as text or json (env AGGREGATOR_LOG_FORMAT)")
	pprofAddr := fs.String("pprof", getenv("AGGREGATOR_PPROF"), "serve net/http/pprof at this loopback address, e.g. 127.0.0.1:6060 (env AGGREGATOR_PPROF)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log, err := newLogger(stderr, *logFormat)
	if err != nil {
		return err
	}
	defer func() { err = logFailure(log, *logFormat, err) }()
	cfg, err := loadConfig(f)
	if err != nil {
		return err
	}
	stopPprof, err := startPprof(ctx, log, *pprofAddr)
	if err != nil {
		return err
	}
	defer stopPprof()
	db, err := openStore(cfg, false)
	if err != nil {
		return err
	}
	defer db.Close()
	// Listen before anything runs in the background, so a taken port is an
	// error at start and tests can ask for :0.
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// SIGHUP reloads: caught from here on, so that one sent once the
	// "listening" line is out never kills the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	a, err := app.New(cfg, app.Deps{
		Store:      db,
		Logger:     log,
		Listener:   ln,
		Load:       func() (config.Config, error) { return loadConfig(f) },
		Watch:      f.config,
		AdminToken: getenv("AGGREGATOR_ADMIN_TOKEN"),
		// Said once the config is watched, so a test may edit it from here on.
		Started: func() { logging.Listening(stdout, *logFormat, app.Version(), "http://"+ln.Addr().String()) },
	})
	if err != nil {
		ln.Close()
		return err
	}
	hupCtx, stopHup := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stopHup()
	wg.Go(func() { memlimit.Run(hupCtx, memlimit.Floor(len(cfg.Sources)), getenv) })
	wg.Go(func() {
		for {
			select {
			case <-hupCtx.Done():
				return
			case <-hup:
				a.Reload("SIGHUP")
			}
		}
	})
	return a.Run(ctx)
}

// newLogger returns the program's logger: text lines by default, one JSON
// object per line with format "json" (see internal/logging).
func newLogger(w io.Writer, format string) (*slog.Logger, error) {
	log, err := logging.New(w, format)
	if err != nil {
		return nil, fmt.Errorf("%w: -log-format: %w", errUsage, err)
	}
	return log, nil
}
