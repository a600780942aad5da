// Package storetest is the conformance suite of the store contract
// (package store): Run checks, against one backend, the behaviours the
// contract's docs promise, so that a backend written from those docs alone
// is done when Run passes. Each backend's own test calls Run; the cases
// name no backend and read nothing but the contract.
//
// The cases are grouped: round trips and orders (what is stored is what
// is read, in the documented order), errors (feed.ENOTFOUND only for
// "not there", feed.EINVALID for bad input with nothing written, a done
// context), persistence (Reopen), concurrency (many sources polled at
// once, one source from two goroutines, readers during writes, membership
// updates during polls), and crashes (crash.go): a writer in another
// process killed with SIGKILL inside its writes, after which the store
// opens with every write it reported whole, none in part, the write order
// whole, and takes new writes at once (Crash, which needs Backend.Locate
// and Child in the backend's TestMain); SavePolls and SaveStates whose
// context ends while they run, each whole or absent (CancelledPoll,
// CancelledState). Run with -race.
package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/store"
)

// Options are what the suite asks of a new store.
type Options struct {
	// Now is the store's clock (FirstSeen, Updated, story.Time of now in
	// SavePoll); nil means the backend's default.
	Now func() time.Time
	// TitleWindow is the title rule's window (0: off).
	TitleWindow time.Duration
}

// Backend is how the suite gets stores.
type Backend struct {
	// Open returns a new, empty store with opts. The suite closes it
	// (Close may be called twice); a backend registers its own checks
	// (consistency, dropping a database) with t.Cleanup.
	Open func(t testing.TB, opts Options) store.Store
	// Reopen closes s and opens the same store again with opts, as after
	// a restart.
	Reopen func(t testing.TB, s store.Store, opts Options) store.Store
	// Share, when set, opens a second handle on s's store with opts, as
	// another instance would (the caller closes it); nil for a backend
	// that one process holds. The change feed's cases use it.
	Share func(t testing.TB, s store.Store, opts Options) store.Store
	// Locate, when set, names s's store to another process: the location
	// (a file path, a URL) that the backend's test binary, run again as
	// the Crash case's writer, opens in Child. The backend's test package
	// must then call Child first in its TestMain. nil skips Crash.
	Locate func(t testing.TB, s store.Store) string
}

// Run runs every case of the suite against b, each as a subtest.
func Run(t *testing.T, b Backend) {
	if b.Open == nil || b.Reopen == nil {
		t.Fatal("storetest.Backend needs Open and Reopen")
	}
	for _, c := range slices.Concat(cases, listCases) {
		t.Run(c.name, func(t *testing.T) { c.run(t, b) })
	}
}

type testCase struct {
	name string
	run  func(t *testing.T, b Backend)
}

var cases = []testCase{
	{"SavePollRoundTrip", testSavePollRoundTrip},
	{"ItemsAfterOrder", testItemsAfterOrder},
	{"WriteOrder", testWriteOrder},
	{"States", testStates},
	{"StateFields", testStateFields},
	{"StateSoon", testStateSoon},
	{"Subscriptions", testSubscriptions},
	{"SubscriberDays", testSubscriberDays},
	{"Indexes", testIndexes},
	{"IndexTies", testIndexTies},
	{"Prune", testPrune},
	{"Stories", testStories},
	{"Reopen", testReopen},
	{"NotFound", testNotFound},
	{"BadInput", testBadInput},
	{"InvalidUTF8", testInvalidUTF8},
	{"DoneContext", testDoneContext},
	{"Close", testClose},
	{"ConcurrentSources", testConcurrentSources},
	{"ConcurrentOneSource", testConcurrentOneSource},
	{"ReadersDuringWrites", testReadersDuringWrites},
	{"IndexesDuringPolls", testIndexesDuringPolls},
	{"Leases", testLeases},
	{"Changes", testChanges},
	{"GuardedIndexUpdate", testGuardedIndexUpdate},
	{"Copies", testCopies},
	{"Crash", testCrash},
	{"CancelledPoll", testCancelledPoll},
	{"CancelledState", testCancelledState},
}

// open is b.Open with the store closed at cleanup.
func open(t *testing.T, b Backend, opts Options) store.Store {
	t.Helper()
	s := b.Open(t, opts)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}
