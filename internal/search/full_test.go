package search

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

// smallDisk mounts a tmpfs of size bytes on a new directory, or skips the
// test where mounting is not allowed (it needs root).
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("a full disk needs a small tmpfs (mount, as root): %v %s", err, out)
	}
	t.Cleanup(func() { // before TempDir's removal, registered earlier
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

// fillDisk writes a file in dir until the disk is full and returns its path.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return path
		}
	}
}

func batchOf(t *testing.T, db *published, b int) {
	t.Helper()
	var items []feed.Item
	for i := range 50 {
		items = append(items, item("s", fmt.Sprintf("%d-%d", b, i), fmt.Sprintf("title %d word%d", b, b*100+i),
			fmt.Sprintf("<p>body %d lorem ipsum %d dolor</p>", b*1000+i, i*7), day0.Add(time.Duration(b)*time.Minute)))
	}
	save(t, db, "s", items...)
}

// TestFullDisk is the audit's case 2 on a real full disk: a write that
// fails leaves the index as it was, the writes after it fail with an error
// (they panicked in zapx with "assignment to entry in nil map"), and once
// space is back the index catches up, whole, and opens again.
func TestFullDisk(t *testing.T) {
	disk := smallDisk(t, "2m")
	db := openStore(t)
	dir := filepath.Join(disk, "idx")
	ix, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { ix.Close() }()
	batchOf(t, db, 0)
	if n, err := ix.Sync(context.Background(), db); err != nil || n != 50 {
		t.Fatalf("first Sync = %d, %v", n, err)
	}
	filler := fillDisk(t, disk)
	failed := 0
	for b := 1; b <= 10; b++ {
		batchOf(t, db, b)
		if _, err := ix.Sync(context.Background(), db); err != nil {
			if failed == 0 {
				t.Logf("on a full disk: %v", err)
			}
			failed++
		}
	}
	if failed == 0 {
		t.Fatal("no Sync failed on a full disk")
	}
	if c, err := ix.Count(); err != nil || c < 50 {
		t.Errorf("during the failures Count = %d, %v; want what was indexed before", c, err)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if _, err := ix.Sync(context.Background(), db); err != nil {
		t.Fatalf("Sync with space back: %v", err)
	}
	check := func(ix *Index) {
		t.Helper()
		if c, err := ix.Count(); err != nil || c != 550 {
			t.Errorf("Count = %d, %v; want 550", c, err)
		}
		if res, err := ix.Search(context.Background(), Query{Text: "word1049"}); err != nil || res.Total != 1 {
			t.Errorf("an item of the last batch: %+v, %v", res, err)
		}
	}
	check(ix)
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	if ix, err = Open(dir); err != nil {
		t.Fatalf("reopen: %v", err)
	}
	check(ix)
}
