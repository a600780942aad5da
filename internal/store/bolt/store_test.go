package bolt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/store"
)

// clock is an injectable Now that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// openTest opens a store in a fresh temporary directory (under a
// subdirectory, so Open must create it). On cleanup it runs bbolt's
// consistency check, failing the test on any problem, then closes.
func openTest(tb testing.TB, opts Options) *DB {
	tb.Helper()
	return openTestAt(tb, filepath.Join(tb.TempDir(), "data", "store.db"), opts)
}

// openTestAt is openTest on a given path.
func openTestAt(tb testing.TB, path string, opts Options) *DB {
	tb.Helper()
	db, err := Open(path, opts)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := db.Check(); err != nil {
			tb.Errorf("Check: %v", err)
		}
		if err := db.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return db
}

func TestOpenCreatesAndReopens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "store.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if got := db.Path(); got != path {
		t.Errorf("Path = %q, want %q", got, path)
	}
	if err := db.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if _, err := os.Stat(db.Path()); err != nil {
		t.Fatalf("database file: %v", err)
	}
	if _, err := db.SavePoll(ctx, "src", []feed.Item{newItem("k1", "one", day(1))}, state("src")); err != nil {
		t.Fatalf("SavePoll: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := db.Ping(ctx); err == nil {
		t.Fatalf("Ping after Close: no error")
	}

	if err := db.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	again := openTestAt(t, path, Options{})
	if got, err := again.Count(ctx); err != nil || got != 1 {
		t.Fatalf("Count after reopen = %d, %v; want 1, nil", got, err)
	}
}

func TestOpenLocked(t *testing.T) {
	db := openTest(t, Options{})
	// flock(2) locks belong to the open file description, so a second
	// Open in the same process conflicts just as another process would.
	second, err := Open(db.Path(), Options{Timeout: 50 * time.Millisecond})
	if err == nil {
		second.Close()
		t.Fatalf("second Open of a locked file: no error")
	}
	if !errors.Is(err, store.ErrLocked) {
		t.Errorf("error %v, want store.ErrLocked", err)
	}
	want := "open " + db.Path() + ": database is locked by another process (is another aggregator running?)"
	if got := err.Error(); got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
	// The first handle is unharmed.
	if err := db.Ping(ctx); err != nil {
		t.Errorf("Ping on first handle: %v", err)
	}
}

// writeFile writes data to a fresh file and returns its path.
func writeFile(t *testing.T, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bad.db")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// wantCorrupt opens path and wants an store.ErrCorrupt error naming the file.
func wantCorrupt(t *testing.T, path string) {
	t.Helper()
	db, err := Open(path, Options{Timeout: 100 * time.Millisecond})
	if err == nil {
		db.Close()
		t.Fatalf("Open(%s): no error", path)
	}
	if !errors.Is(err, store.ErrCorrupt) {
		t.Errorf("Open: %v, want store.ErrCorrupt", err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the file", err)
	}
}

// sampleFile builds a closed database with enough items to span many pages
// and returns its path and contents.
func sampleFile(t *testing.T) (string, []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sample.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.SavePoll(ctx, "src", manyItems("src", 300, day(0)), state("src")); err != nil {
		t.Fatal(err)
	}
	// A second commit, so that both meta pages describe the 300 items.
	if err := db.SaveState(ctx, state("src")); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) < 64*1024 {
		t.Fatalf("sample database only %d bytes; want a multi-page file", len(data))
	}
	return path, data
}

func TestOpenCorrupt(t *testing.T) {
	_, good := sampleFile(t)
	// bbolt grows the file ahead of use; cut into the pages in use.
	used := 0
	for _, off := range []uint64{0, 4096} {
		m, err := readMeta(bytes.NewReader(good), off)
		if err != nil {
			t.Fatal(err)
		}
		used = max(used, int(m.pgid*m.pageSize))
	}
	rng := rand.New(rand.NewChaCha8([32]byte{1}))
	random := make([]byte, 64*1024)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	badMetas := append([]byte(nil), good...)
	badMetas[pageHeaderSize+20] ^= 0xff      // meta 0 root, checksum now wrong
	badMetas[4096+pageHeaderSize+20] ^= 0xff // meta 1
	badRoot := append([]byte(nil), good...)
	// Point both meta pages' root at a page that is not a branch or leaf
	// (page 0 is a meta page) and fix the checksums, so only the page
	// check can catch it.
	for _, off := range []int{0, 4096} {
		m := badRoot[off+pageHeaderSize : off+pageHeaderSize+metaSize]
		for i := 16; i < 24; i++ {
			m[i] = 0
		}
		m[16] = 1
		fixChecksum(m)
	}

	tests := []struct {
		name string
		data []byte
	}{
		{"random bytes", random},
		{"text", []byte(strings.Repeat("sources:\n  - id: x\n", 500))},
		{"tiny", []byte("bolt")},
		{"truncated to 100 bytes", good[:100]},
		{"truncated to two pages", good[:8192]},
		{"truncated to half", good[:used/2]},
		{"truncated by one page", good[:used-4096]},
		{"both meta pages damaged", badMetas},
		{"root points at a meta page", badRoot},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantCorrupt(t, writeFile(t, tt.data))
		})
	}
}

func fixChecksum(m []byte) {
	h := fnv.New64a()
	h.Write(m[:metaChecksummed])
	binary.NativeEndian.PutUint64(m[metaChecksummed:], h.Sum64())
}

func TestOpenOneMetaDamagedStillOpens(t *testing.T) {
	_, good := sampleFile(t)
	// bbolt keeps two meta pages so that losing one is survivable.
	for _, off := range []int{0, 4096} {
		data := append([]byte(nil), good...)
		data[off+pageHeaderSize+20] ^= 0xff
		path := writeFile(t, data)
		db, err := Open(path, Options{})
		if err != nil {
			t.Fatalf("meta at %d damaged: Open: %v", off, err)
		}
		n, err := db.Count(ctx)
		if err != nil || n != 300 {
			t.Errorf("meta at %d damaged: Count = %d, %v; want 300", off, n, err)
		}
		if err := db.Check(); err != nil {
			t.Errorf("meta at %d damaged: Check: %v", off, err)
		}
		db.Close()
	}
}

func TestOpenNewerSchemaRefused(t *testing.T) {
	db := openTest(t, Options{})
	path := db.Path()
	if err := db.bolt.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keySchema, []byte("99"))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	_, err := Open(path, Options{})
	if !errors.Is(err, store.ErrSchema) {
		t.Fatalf("Open: %v, want store.ErrSchema", err)
	}
	if !strings.Contains(err.Error(), "99") || !strings.Contains(err.Error(), path) {
		t.Errorf("error %q should name the file and the version", err)
	}
	// Reopen for the cleanup's check, without the schema test in the way.
	b, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	db.bolt = b
}

func TestOpenForeignDatabaseRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.db")
	b, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucket([]byte("widgets"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if _, err := Open(path, Options{}); !errors.Is(err, store.ErrSchema) {
		t.Fatalf("Open of another program's database: %v, want store.ErrSchema", err)
	}
}
