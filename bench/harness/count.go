package main

import (
	"flag"
	"fmt"

	"github.com/kpolicy/aggregator/internal/store"
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
	db, err := store.Open(*path, store.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	stories, err := db.Count()
	if err != nil {
		return err
	}
	// A copy of a story that another source delivered first is stored as
	// an origin of that story, not lost: each source's count holds its own
	// items and its merged copies.
	states, err := db.States()
	if err != nil {
		return err
	}
	items := 0
	for _, st := range states {
		n, err := db.SourceItemCount(st.SourceID)
		if err != nil {
			return err
		}
		items += n
	}
	fmt.Printf("store.items %d\nstore.stories %d\n", items, stories)
	return nil
}
