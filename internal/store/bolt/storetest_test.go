package bolt

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/kpolicy/aggregator/internal/store"
	"github.com/kpolicy/aggregator/internal/store/storetest"
)

// TestMain lets the test binary be the crash case's writer (storetest.Child).
func TestMain(m *testing.M) {
	storetest.Child(func(path string, o storetest.Options) (store.Store, error) {
		return Open(path, Options{Now: o.Now, TitleWindow: o.TitleWindow})
	})
	os.Exit(m.Run())
}

// TestContract runs the conformance suite against bbolt files. When a test
// ends its file is closed, opened again and walked with tx.Check; a
// reopened file is walked at once too (after the crash case's kill).
func TestContract(t *testing.T) {
	storetest.Run(t, storetest.Backend{
		Open: func(t testing.TB, o storetest.Options) store.Store {
			return openChecked(t, filepath.Join(t.TempDir(), "data", "store.db"), o)
		},
		Reopen: func(t testing.TB, s store.Store, o storetest.Options) store.Store {
			db := s.(*DB)
			if err := db.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			again := openChecked(t, db.Path(), o)
			if err := again.Check(); err != nil {
				t.Errorf("Check after reopening: %v", err)
			}
			return again
		},
		Locate: func(t testing.TB, s store.Store) string { return s.(*DB).Path() },
	})
}

func openChecked(t testing.TB, path string, o storetest.Options) *DB {
	t.Helper()
	db, err := Open(path, Options{Now: o.Now, TitleWindow: o.TitleWindow})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		again, err := Open(path, Options{ReadOnly: true})
		if err != nil {
			t.Errorf("Open again to check: %v", err)
			return
		}
		defer again.Close()
		if err := again.Check(); err != nil {
			t.Errorf("Check: %v", err)
		}
	})
	return db
}
