package app

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
)

// TestRefresherCoalesces marks sources while a render is running: they all
// go into one next render, and a render pending at the end is not lost.
func TestRefresherCoalesces(t *testing.T) {
	r := newRefresher()
	var mu sync.Mutex
	var calls [][]string
	inRender, proceed := make(chan struct{}), make(chan struct{})
	refresh := func(ids ...string) error {
		mu.Lock()
		calls = append(calls, ids)
		first := len(calls) == 1
		mu.Unlock()
		if first {
			inRender <- struct{}{}
			<-proceed
		}
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		r.run(ctx, refresh, slog.New(slog.DiscardHandler))
		close(done)
	}()
	r.mark("a")
	<-inRender
	for _, id := range []string{"c", "b", "c", "d"} {
		r.mark(id)
	}
	close(proceed)
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	want := [][]string{{"a"}, {"b", "c", "d"}}
	if !slices.EqualFunc(calls, want, slices.Equal) {
		t.Errorf("renders %v, want %v", calls, want)
	}
}
