package bolt

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/store"
)

func TestOpenReadOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.db")
	if _, err := Open(path, Options{ReadOnly: true}); err == nil {
		t.Fatal("read-only open of a missing file succeeded")
	}
	db, err := Open(path, Options{Now: newClock().Now})
	if err != nil {
		t.Fatal(err)
	}
	mustSave(t, db, "kei", manyItems("kei", 3, day(0))...)
	// A writer holds the file: a reader is told so, not left hanging.
	if _, err := Open(path, Options{ReadOnly: true, Timeout: 50 * time.Millisecond}); !errors.Is(err, store.ErrLocked) {
		t.Errorf("read-only open beside a writer: %v, want store.ErrLocked", err)
	}
	db.Close()

	r1, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r1.Close()
	r2, err := Open(path, Options{ReadOnly: true}) // readers share the lock
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if items, err := itemsOf(r2, []string{"kei"}, 10); err != nil || len(items) != 3 {
		t.Errorf("Items=%d, %v", len(items), err)
	}
	if _, err := r1.SavePoll(ctx, "kei", manyItems("kei", 1, day(9)), state("kei")); err == nil {
		t.Error("SavePoll on a read-only store succeeded")
	}
}
