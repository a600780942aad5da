package bolt

import (
	"context"
	"sync"
	"time"

	"go.etcd.io/bbolt"
)

// unmapEvery is how often the store gives its mapped pages back (unmap),
// when a write transaction began since it last did.
const unmapEvery = 250 * time.Millisecond

// The file-backed part of the process's memory is bbolt's read-only shared
// map of the file. Once a page of the file is in the page cache (every page
// a write transaction writes is) the kernel maps it, and the cached pages
// around it (fault-around, 64 KB), into the process at the first read near
// it, and leaves it mapped: a server that polls and indexes soon shows about
// the whole file in its RSS (bench/RESULTS.md, issue 17: 225 of 360 MiB).
// Those pages are the page cache's, clean, and stay cached when unmapped; a
// mapped page is only harder for the kernel to reclaim and counts against
// the process. So the store tells the kernel it does not need its map
// (MADV_DONTNEED): the page table entries go, the cached file stays, and the
// next read of a page maps it again from the cache (a minor fault).
//
// That next read is the price. Under a search load, which reads items all
// over the file, the map fills again within a second and the faults cost
// about a tenth of the searches (bench/RESULTS.md, round 8: 394 against 434
// searches a second, unmapped each second or never). So the store unmaps
// only after writes, where the pages a poll touches once pile up, at most
// every 250 ms: a poll's write transaction alone maps tens of MB (each
// random leaf it reads brings 64 KB around it), so a second was enough to
// map much of the file again (bench/RESULTS.md, issue 17, round 11: the
// file's mapped part in the memory row, sampled each second, median 26 MiB
// and up to 51 unmapped each second; 13 and up to 39 each 250 ms, for the
// same CPU, 87.7 against 89.2 s; 7 and up to 31 each 100 ms, but the
// poll took 109 s against 64-76).
//
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
	once sync.Once // Close may be called twice, even at once
}

func (db *DB) startUnmap(every time.Duration) {
	db.unmapper = unmapper{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(db.unmapper.done)
		t := time.NewTicker(every)
		defer t.Stop()
		var last uint64 // db.writes at the last unmap
		for {
			select {
			case <-db.unmapper.stop:
				return
			case <-t.C:
				seen := db.writes.Load()
				if seen == last {
					continue // nothing written since: reads keep what they map
				}
				if err := db.unmap(); err != nil {
					return // no such advice here (dropMapped): nothing to give back
				}
				last = seen
			}
		}
	}()
}

func (db *DB) stopUnmap() {
	if db.unmapper.stop == nil {
		return
	}
	db.unmapper.once.Do(func() { close(db.unmapper.stop) })
	<-db.unmapper.done
}

// unmap gives the map's pages back to the page cache; see unmapper.
func (db *DB) unmap() error {
	return db.view(context.Background(), func(tx *bbolt.Tx) error {
		return dropMapped(db.bolt.Info().Data, tx.Size())
	})
}
