package app

import (
	"context"
	"time"
)

// flushEvery is how often subscriber statistics are written to the store.
const flushEvery = 10 * time.Minute

// flushLoop writes subscriber statistics every flushEvery and once more
// when ctx ends.
func (a *App) flushLoop(ctx context.Context) {
	t := time.NewTicker(flushEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			if err := a.subs.Flush(context.WithoutCancel(ctx)); err != nil {
				a.log.Error("subscriber statistics", "err", err)
			}
			return
		case <-t.C:
			if err := a.subs.Flush(ctx); err != nil {
				a.log.Error("subscriber statistics", "err", err)
			}
		}
	}
}
