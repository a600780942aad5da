package bolt

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzOpen gives Open files whose first two pages (bbolt's meta pages, what
// checkHeader guards) are arbitrary bytes, followed by a sound database's
// data pages. Open may refuse them but must not crash or hang, and a file it
// accepts must be readable.
//
// Arbitrary bytes in the data pages are out of scope: bbolt keeps no page
// checksums, and a branch page that lists itself as its own child makes
// bbolt's cursors (and its own tx.Check) loop forever. See the package doc.
func FuzzOpen(f *testing.F) {
	path := filepath.Join(f.TempDir(), "seed.db")
	db, err := Open(path, Options{})
	if err != nil {
		f.Fatal(err)
	}
	if _, err := db.SavePoll(ctx, "src", manyItems("src", 20, day(0)), state("src")); err != nil {
		f.Fatal(err)
	}
	db.Close()
	seed, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	const headerLen = 2 * 4096
	f.Add(seed[:headerLen])
	f.Add(seed[:100])
	f.Add([]byte("not a database"))
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, header []byte) {
		data := header
		if len(header) >= headerLen {
			data = append(header[:headerLen:headerLen], seed[headerLen:]...)
		}
		path := filepath.Join(t.TempDir(), "fuzz.db")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		db, err := Open(path, Options{Timeout: time.Second})
		if err != nil {
			return
		}
		defer db.Close()
		_, _ = db.Count(ctx)
		_, _ = db.States(ctx)
		_, _ = itemsOf(db, []string{"src"}, 10)
		_, _ = db.Item(ctx, "src", "id:src/000001")
	})
}
