package main

import (
	"flag"
	"fmt"

	"github.com/kpolicy/aggregator/internal/store"
)

// runCount prints how many items a store holds (after the aggregator that
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
	n, err := db.Count()
	if err != nil {
		return err
	}
	fmt.Printf("store.items %d\n", n)
	return nil
}
