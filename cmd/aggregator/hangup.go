package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// forwardHangups turns SIGHUP into a reload request until ctx ends.
func forwardHangups(ctx context.Context, reload chan<- string) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				requestReload(reload, "SIGHUP")
			}
		}
	}()
}
