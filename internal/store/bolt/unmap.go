package bolt

import (
	"context"
	"time"

	"go.etcd.io/bbolt"
)

// unmapEvery is how often the store gives its mapped pages back (unmap),
// when a transaction ran since it last did. The memory row of bench/run
// (issue 17): file-backed peak 225 MiB without, 102 at 1 s, 76 at 250 ms,
// the poll's time within the machine's noise.
const unmapEvery = 250 * time.Millisecond

// The file-backed part of the process's memory is bbolt's read-only shared
// map of the file. Once a page of the file is in the page cache (every page
// a write transaction writes is) the kernel maps it, and the cached pages
// around it (fault-around, 64 KB), into the process at the first read near
// it, and leaves it mapped: a server that polls and indexes soon shows about
// the whole file in its RSS (bench/RESULTS.md, issue 17: 223 of 347 MiB).
// Those pages are the page cache's, clean, and stay cached when unmapped; a
// mapped page is only harder for the kernel to reclaim and counts against
// the process. So four times a second the store tells the kernel it does not need
// its map (MADV_DONTNEED): the page table entries go, the cached file stays,
// and the next read of a page maps it again from the cache (a minor fault).
// On a shared file mapping this changes no byte anyone reads, also for a
// transaction reading at that moment. The map cannot move meanwhile: bbolt
// remaps the file only with every read transaction ended, and the advice is
// given inside one, over the pages that transaction sees (tx.Size ≤ the
// map's length).
//
// The loop is the DB's: started by Open, stopped and joined by Close.
type unmapper struct {
	stop chan struct{}
	done chan struct{}
}

func (db *DB) startUnmap(every time.Duration) {
	db.unmapper = unmapper{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(db.unmapper.done)
		t := time.NewTicker(every)
		defer t.Stop()
		var last uint64 // db.txs after the last unmap, its own transaction counted
		for {
			select {
			case <-db.unmapper.stop:
				return
			case <-t.C:
				seen := db.txs.Load()
				if seen == last {
					continue // nothing read the map since: an idle store stays asleep
				}
				if err := db.unmap(); err != nil {
					return // no such advice here (dropMapped): nothing to give back
				}
				last = seen + 1
			}
		}
	}()
}

func (db *DB) stopUnmap() {
	if db.unmapper.stop == nil {
		return
	}
	select {
	case <-db.unmapper.stop:
	default:
		close(db.unmapper.stop)
	}
	<-db.unmapper.done
}

// unmap gives the map's pages back to the page cache; see unmapper.
func (db *DB) unmap() error {
	return db.view(context.Background(), func(tx *bbolt.Tx) error {
		return dropMapped(db.bolt.Info().Data, tx.Size())
	})
}
