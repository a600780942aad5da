package bolt

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

// stalled is a backup reader that takes the first write and then waits
// for release: a client reading /admin/backup at 1 KB/s, or not at all.
type stalled struct {
	started chan struct{} // closed at the first write
	release chan struct{}
	once    sync.Once
	buf     bytes.Buffer // read once Backup has returned
}

func (s *stalled) Write(p []byte) (int, error) {
	s.once.Do(func() {
		close(s.started)
		<-s.release
	})
	return s.buf.Write(p)
}

// TestBackupDoesNotHoldTheWriter: polls that grow the file go on while a
// backup is being read slowly (one read transaction held for the whole
// download blocked bbolt's remap, and so every writer, until it ended).
func TestBackupDoesNotHoldTheWriter(t *testing.T) {
	db := openTest(t, Options{})
	bigItems := func(batch int) []feed.Item {
		var items []feed.Item
		for i := range 200 {
			items = append(items, feed.Item{Key: fmt.Sprintf("%d-%d", batch, i), Title: "t", Summary: strings.Repeat("본문 ", 2000), Published: time.Unix(int64(batch*1000+i), 0).UTC(), Dated: true})
		}
		return items
	}
	if _, err := db.SavePoll(ctx, "s", bigItems(0), feed.SourceState{}); err != nil {
		t.Fatal(err)
	}
	before, _ := db.Size(ctx)
	w := &stalled{started: make(chan struct{}), release: make(chan struct{})}
	backup := make(chan error, 1)
	go func() {
		_, err := db.Backup(ctx, w)
		backup <- err
	}()
	<-w.started
	polled := make(chan error, 1)
	start := time.Now()
	go func() {
		for b := 1; b <= 5; b++ { // about 6 MB each: the file must grow and be mapped again
			if _, err := db.SavePoll(ctx, "s", bigItems(b), feed.SourceState{}); err != nil {
				polled <- err
				return
			}
		}
		polled <- nil
	}()
	select {
	case err := <-polled:
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("5 polls growing the file from %d to %d bytes took %v during a stalled backup", before, func() int64 { n, _ := db.Size(ctx); return n }(), time.Since(start))
	case <-time.After(30 * time.Second):
		close(w.release)
		t.Fatalf("polls were still blocked after 30 s by a stalled backup download")
	}
	close(w.release)
	if err := <-backup; err != nil {
		t.Fatal(err)
	}
	// The copy is the database as it was when the backup began.
	path := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(path, w.buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	cp := openTestAt(t, path, Options{})
	if n, err := cp.Count(ctx); err != nil || n != 200 {
		t.Errorf("the copy holds %d items (%v), want the 200 stored when it began", n, err)
	}
	if n, err := db.Count(ctx); err != nil || n != 1200 {
		t.Errorf("the store holds %d items (%v), want 1200", n, err)
	}
	entries, _ := os.ReadDir(filepath.Dir(db.path))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".backup") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}
