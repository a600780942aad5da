package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/store/bolt"
)

// TestFullDatabase caps the database at 1 MiB (storage.max_size) while a
// source keeps growing: the poll that would overflow fails and is recorded
// on the source, the server goes on serving what it stored, and with the cap
// raised the next run stores the rest.
func TestFullDatabase(t *testing.T) {
	t.Parallel()
	o := newGrowingOrigin(t, 60, 2000, 6000)
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "aggregator.db")
	cfg := writeGrowingConfig(t, dir, o, 1, dbPath, "max_size: 1MiB", "")

	p := serve(t, cfg)
	deadline := time.Now().Add(60 * time.Second)
	for !pollFailedFull(p) {
		if time.Now().After(deadline) {
			t.Fatalf("the database never filled up\n%s", p.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	stored := jsonItems(t, p.Base+"/feeds/all.json")
	if stored == 0 {
		t.Fatal("nothing is served once the database is full")
	}
	if status, _ := get(t, p.Base+"/healthz"); status != 200 {
		t.Errorf("healthz: %d while full", status)
	}
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, 40*time.Second); code != 0 {
		t.Fatalf("exit code %d\n%s", code, p.stderr)
	}
	st := sourceState(t, dbPath, "s1")
	if !strings.Contains(st.LastError, "database is full") || st.Errors == 0 {
		t.Errorf("state LastError=%q Errors=%d, want the full database recorded", st.LastError, st.Errors)
	}
	t.Logf("full after %d items; recorded: %s", stored, st.LastError)

	// Space returns.
	os.WriteFile(cfg, []byte(strings.Replace(mustRead(t, cfg), "max_size: 1MiB", "max_size: 64MiB", 1)), 0o644)
	p = serve(t, cfg)
	// The log line comes before the channel is rendered again: wait for both.
	waitPolls(t, p, 1)
	deadline = time.Now().Add(30 * time.Second)
	for jsonItems(t, p.Base+"/feeds/all.json") <= stored {
		if time.Now().After(deadline) {
			t.Fatalf("with room again the channel still has %d items\n%s", stored, p.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.signal(t, syscall.SIGTERM)
	p.wait(t, 40*time.Second)
	if st := sourceState(t, dbPath, "s1"); st.LastError != "" || st.Errors != 0 {
		t.Errorf("after recovery LastError=%q Errors=%d, want none", st.LastError, st.Errors)
	}
}

// TestFullDisk puts the database on a 1 MiB tmpfs, a disk that really
// fills up (ENOSPC), then grows the tmpfs while the server runs: polls fail
// and are recorded while the disk is full, and succeed without a restart
// once there is room. It needs root and mount; it skips otherwise.
func TestFullDisk(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mnt := filepath.Join(dir, "disk")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", mnt).Run() })

	o := newGrowingOrigin(t, 60, 2000, 6000)
	dbPath := filepath.Join(mnt, "aggregator.db")
	cfg := writeGrowingConfig(t, dir, o, 1, dbPath, "", "")
	p := serve(t, cfg)
	deadline := time.Now().Add(60 * time.Second)
	for !pollFailedFull(p) {
		if time.Now().After(deadline) {
			t.Fatalf("the disk never filled up\n%s", p.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	stored := jsonItems(t, p.Base+"/feeds/all.json")
	if stored == 0 {
		t.Fatal("nothing is served once the disk is full")
	}
	if out, err := exec.Command("mount", "-o", "remount,size=64m", mnt).CombinedOutput(); err != nil {
		t.Fatalf("remount: %v %s", err, out)
	}
	deadline = time.Now().Add(60 * time.Second)
	for jsonItems(t, p.Base+"/feeds/all.json") <= stored {
		if time.Now().After(deadline) {
			t.Fatalf("no new item stored after the disk grew\n%s", p.stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, 40*time.Second); code != 0 {
		t.Fatalf("exit code %d\n%s", code, p.stderr)
	}
	db, err := bolt.Open(dbPath, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Check(); err != nil {
		t.Fatal(err)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// jsonItems returns the number of items of a JSON Feed.
func jsonItems(t *testing.T, url string) int {
	t.Helper()
	// A channel answers 503 while its membership index is first built
	// (docs/http.md): a reader retries, and so does the test, for a while.
	status, body := get(t, url)
	for deadline := time.Now().Add(60 * time.Second); status == 503 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		status, body = get(t, url)
	}
	var doc struct{ Items []json.RawMessage }
	if status != 200 || json.Unmarshal(body, &doc) != nil {
		t.Fatalf("GET %s: %d %.200s", url, status, body)
	}
	return len(doc.Items)
}

func sourceState(t *testing.T, dbPath, id string) stateView {
	t.Helper()
	db, err := bolt.Open(dbPath, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := db.State(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return stateView{LastError: st.LastError, Errors: st.Errors}
}

type stateView struct {
	LastError string
	Errors    int
}

// pollFailedFull reports whether the server logged a poll that failed
// because the database is full: the poll's failure, not an index's (the
// membership and search indexes write too).
func pollFailedFull(p *proc) bool {
	for _, l := range strings.Split(p.stderr.String(), "\n") {
		if strings.Contains(l, `msg="poll failed"`) && strings.Contains(l, "database is full") {
			return true
		}
	}
	return false
}
