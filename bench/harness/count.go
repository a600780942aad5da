package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/kpolicy/aggregator/internal/store/bolt"
)

// runCount prints how many items a store holds, merged copies included, and
// how many stories (after the aggregator that
// wrote it has exited: bbolt allows one process at a time).
func runCount(args []string) error {
	fs := flag.NewFlagSet("count", flag.ContinueOnError)
	path := fs.String("db", "", "database file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	db, err := bolt.Open(*path, bolt.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	ctx := context.Background()
	stories, err := db.Count(ctx)
	if err != nil {
		return err
	}
	// A copy of a story that another source delivered first is stored as
	// an origin of that story, not lost: each source's count holds its own
	// items and its merged copies.
	states, err := db.States(ctx)
	if err != nil {
		return err
	}
	items := 0
	for _, st := range states {
		n, err := db.SourceItemCount(ctx, st.SourceID)
		if err != nil {
			return err
		}
		items += n
	}
	fmt.Printf("store.items %d\nstore.stories %d\n", items, stories)
	return nil
}
