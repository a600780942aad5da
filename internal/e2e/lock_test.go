package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSecondProcess runs a second aggregator, serve and fetch, on the
// database a running one holds: each must exit 1 promptly with a message
// naming the file and the process that holds it, not hang.
func TestSecondProcess(t *testing.T) {
	t.Parallel()
	o := newGrowingOrigin(t, 1, 10, 0)
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "aggregator.db")
	cfg := writeGrowingConfig(t, dir, o, 1, dbPath, "", "")
	first := serve(t, cfg)

	for _, args := range [][]string{
		{"serve", "-config", cfg, "-addr", "127.0.0.1:0"},
		{"fetch", "-config", cfg},
	} {
		t.Run(args[0], func(t *testing.T) {
			second := start(t, args...)
			if code := second.wait(t, 15*time.Second); code != 1 {
				t.Fatalf("exit code %d, want 1\n%s", code, second.stderr)
			}
			msg := second.stderr.String()
			for _, want := range []string{
				dbPath, "database is locked by another process (is another aggregator running?)",
				"process " + strconv.Itoa(first.cmd.Process.Pid) + " (aggregator) holds it",
			} {
				if !strings.Contains(msg, want) {
					t.Errorf("message lacks %q:\n%s", want, msg)
				}
			}
		})
	}
	first.signal(t, syscall.SIGTERM)
	if code := first.wait(t, 40*time.Second); code != 0 {
		t.Errorf("first server: exit code %d\n%s", code, first.stderr)
	}
}

// TestDamagedDatabase starts the aggregator on a database that was cut
// short, overwritten with garbage, or is not a database at all: it must exit
// 1 with a message naming the file and saying how to recover, never panic.
func TestDamagedDatabase(t *testing.T) {
	t.Parallel()
	// A real database with items, to damage.
	o := newGrowingOrigin(t, 20, 20, 2000)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.db")
	cfg := writeGrowingConfig(t, dir, o, 2, good, "", "")
	if p := start(t, "fetch", "-config", cfg); p.wait(t, 30*time.Second) != 0 {
		t.Fatalf("fetch failed\n%s%s", p.stdout, p.stderr)
	}
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) < 8*4096 {
		t.Fatalf("database of %d bytes is too small to damage usefully", len(data))
	}
	garbage := func(b []byte, from, n int) []byte {
		b = append([]byte(nil), b...)
		for i := from; i < from+n && i < len(b); i++ {
			b[i] = byte(i*7 + 3)
		}
		return b
	}
	cases := map[string][]byte{
		"truncated to half":     data[:len(data)/2],
		"truncated to one page": data[:4096],
		"meta pages garbled":    garbage(data, 0, 2*4096),
		"not a database":        []byte("<?xml version=\"1.0\"?><rss></rss>\n"),
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "aggregator.db")
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
			for _, cmd := range []string{"serve", "fetch"} {
				args := []string{cmd, "-config", cfg, "-db", path}
				if cmd == "serve" {
					args = append(args, "-addr", "127.0.0.1:0")
				}
				p := start(t, args...)
				code := p.wait(t, 15*time.Second)
				msg := p.stderr.String()
				if code != 1 {
					t.Fatalf("%s: exit code %d, want 1\n%s", cmd, code, msg)
				}
				if strings.Contains(msg, "panic") || strings.Contains(msg, "goroutine ") {
					t.Errorf("%s panicked:\n%s", cmd, msg)
				}
				for _, want := range []string{path, "aggregator backup", "move it aside"} {
					if !strings.Contains(msg, want) {
						t.Errorf("%s: message lacks %q:\n%s", cmd, want, msg)
					}
				}
			}
		})
	}
	t.Run("empty file is a new database", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "aggregator.db")
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if p := start(t, "fetch", "-config", cfg, "-db", path); p.wait(t, 30*time.Second) != 0 {
			t.Errorf("fetch on an empty file failed\n%s%s", p.stdout, p.stderr)
		}
	})
}
