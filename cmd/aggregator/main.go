// Command aggregator polls the sources listed in feeds.yaml, stores their
// items in BoltDB and republishes curated channels as Atom, RSS 2.0 and JSON
// Feed over HTTP. It is the only package that wires the others together.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if printed(err) {
			fmt.Fprintln(os.Stderr, "aggregator:", err)
		}
		os.Exit(exitCode(err))
	}
}
