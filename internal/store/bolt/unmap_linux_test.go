package bolt

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// mappedKB is the resident part of this process's maps of the file at path,
// in KB, from /proc/self/smaps.
func mappedKB(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skipf("no /proc/self/smaps: %v", err)
	}
	defer f.Close()
	kb, ours := 0, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		switch {
		case len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":"):
			ours = len(fields) >= 6 && fields[5] == path
		case ours && len(fields) == 3 && fields[0] == "Rss:":
			n, err := strconv.Atoi(fields[1])
			if err != nil {
				t.Fatalf("smaps: %q: %v", line, err)
			}
			kb += n
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return kb
}

// TestUnmapGivesPagesBack: after a walk of every page of a 1,500-item file
// the file is resident in the process's map; unmap leaves next to nothing of
// it mapped, and every item reads back byte for byte after it.
func TestUnmapGivesPagesBack(t *testing.T) {
	db := openTest(t, Options{})
	db.stopUnmap() // this test gives the pages back itself
	ctx := context.Background()
	items := manyItems("src", 1500, day(0))
	for p := range 15 {
		if _, err := db.SavePoll(ctx, "src", items[p*100:(p+1)*100], state("src")); err != nil {
			t.Fatal(err)
		}
	}
	want := make([][]byte, len(items))
	for i, it := range items {
		want[i] = rawItem(t, db, "src", it.Key)
	}
	if err := db.Check(); err != nil { // reads every page through the map
		t.Fatal(err)
	}
	before := mappedKB(t, db.Path())
	st, err := os.Stat(db.Path())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("file %d KB, %d KB of it mapped after a walk", st.Size()>>10, before)
	if before < 1024 {
		t.Fatalf("%d KB mapped after a walk of a %d KB file: the kernel did not map what was read", before, st.Size()>>10)
	}
	if err := db.unmap(); err != nil {
		t.Fatalf("unmap: %v", err)
	}
	after := mappedKB(t, db.Path())
	t.Logf("%d KB mapped after unmap", after)
	if after > before/10 {
		t.Errorf("%d KB still mapped after unmap (%d before)", after, before)
	}
	for i, it := range items {
		if got := rawItem(t, db, "src", it.Key); !bytes.Equal(got, want[i]) {
			t.Fatalf("item %s reads %d bytes after unmap, %d before", it.Key, len(got), len(want[i]))
		}
	}
}

// TestUnmapWhileWriting: unmap runs back to back while polls grow the file
// (bbolt remaps it several times) and readers read what was stored; every
// read returns what was written, and the file checks sound. Run under -race
// it also checks that unmap reads the map only where bbolt lets it.
func TestUnmapWhileWriting(t *testing.T) {
	db := openTest(t, Options{})
	db.stopUnmap()
	ctx := context.Background()
	done := make(chan struct{})
	var wg sync.WaitGroup
	var unmaps int
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			if err := db.unmap(); err != nil {
				t.Errorf("unmap: %v", err)
				return
			}
			unmaps++
		}
	})
	const polls = 40
	first := map[string][]byte{} // the last item of each poll, as read right after it
	for p := range polls {
		id := fmt.Sprintf("s%02d", p)
		if _, err := db.SavePoll(ctx, id, manyItems(id, 100, day(p)), state(id)); err != nil {
			t.Fatal(err)
		}
		key := fmt.Sprintf("id:%s/%06d", id, 99)
		if first[id] = rawItem(t, db, id, key); first[id] == nil {
			t.Fatalf("poll %d: %s not found", p, key)
		}
		for _, q := range []int{0, p / 2} { // earlier polls, read again with the map dropped meanwhile
			qid := fmt.Sprintf("s%02d", q)
			if got := rawItem(t, db, qid, fmt.Sprintf("id:%s/%06d", qid, 99)); !bytes.Equal(got, first[qid]) {
				t.Fatalf("poll %d: the last item of %s reads %d bytes, %d when stored", p, qid, len(got), len(first[qid]))
			}
		}
	}
	close(done)
	wg.Wait()
	if unmaps == 0 {
		t.Fatal("unmap never ran")
	}
	for p := range polls {
		id := fmt.Sprintf("s%02d", p)
		if n, err := db.SourceItemCount(ctx, id); err != nil || n != 100 {
			t.Fatalf("%s: %d items (%v), want 100", id, n, err)
		}
	}
	t.Logf("%d unmaps during %d polls", unmaps, polls)
}

// TestUnmapLoop: the store's own loop gives back what was mapped once a
// write happened, and leaves mapped what reads alone mapped.
func TestUnmapLoop(t *testing.T) {
	db := openTest(t, Options{})
	ctx := context.Background()
	items := manyItems("src", 1000, day(0))
	for p := range 10 {
		if _, err := db.SavePoll(ctx, "src", items[p*100:(p+1)*100], state("src")); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Check(); err != nil { // maps the whole file
		t.Fatal(err)
	}
	// A write after the walk: the loop's next tick gives back all of it,
	// whenever its last tick fell among the polls and the walk.
	if err := db.SaveState(ctx, state("src")); err != nil {
		t.Fatal(err)
	}
	dropped := func() int { // the mapped KB once the loop gave them back, within 10 s
		deadline := time.Now().Add(10 * time.Second)
		kb := mappedKB(t, db.Path())
		for kb > 64 && time.Now().Before(deadline) {
			time.Sleep(unmapEvery / 10)
			kb = mappedKB(t, db.Path())
		}
		return kb
	}
	if kb := dropped(); kb > 64 {
		t.Fatalf("%d KB still mapped 10 s after the polls and a walk", kb)
	}
	time.Sleep(2 * unmapEvery) // the loop's last unmap is behind it
	if err := db.Check(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * unmapEvery)
	if kb := mappedKB(t, db.Path()); kb < 512 {
		t.Errorf("%d KB mapped three ticks after a walk with no write: the loop unmapped what reads mapped", kb)
	}
	if err := db.SaveState(ctx, state("src")); err != nil {
		t.Fatal(err)
	}
	if kb := dropped(); kb > 64 {
		t.Errorf("%d KB still mapped 10 s after a write", kb)
	}
}
