package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/app/apptest"
)

// A postgres:// storage location is opened with PostgreSQL by every
// command that opens the store, whether it comes from -db, AGGREGATOR_DB
// or storage.path: against a port where nothing listens each fails naming
// the URL without its password, and nothing is created on disk under the
// URL's name. compact is refused: PostgreSQL compacts itself.
func TestPostgresURL(t *testing.T) {
	const url = "postgres://aggregator:s3cret@127.0.0.1:1/aggregator?connect_timeout=5"
	dir := t.TempDir()
	t.Chdir(dir)
	cfg := writeConfig(t, "http://127.0.0.1:1", "")
	check := func(t *testing.T, err error, stderr string, unsupported bool) {
		t.Helper()
		if err == nil {
			t.Fatal("no error")
		}
		msg := err.Error() + stderr
		if strings.Contains(msg, "s3cret") {
			t.Errorf("error %q shows the password", msg)
		}
		if !strings.Contains(msg, "127.0.0.1:1") {
			t.Errorf("error %q does not name the database", msg)
		}
		if got := errors.Is(err, errors.ErrUnsupported); got != unsupported {
			t.Errorf("error %v: wraps errors.ErrUnsupported %v, want %v", err, got, unsupported)
		}
	}
	for _, c := range [][]string{{"fetch"}, {"serve", "-addr", "127.0.0.1:0"}, {"reindex"}, {"compact"}} {
		t.Run(c[0]+" -db", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			args := append([]string{c[0], "-config", cfg, "-db", url}, c[1:]...)
			var stdout, stderr apptest.SyncBuffer
			check(t, run(ctx, args, noenv, &stdout, &stderr), stderr.String(), c[0] == "compact")
		})
	}
	t.Run("AGGREGATOR_DB", func(t *testing.T) {
		env := func(k string) string {
			if k == "AGGREGATOR_DB" {
				return url
			}
			return ""
		}
		var stdout, stderr apptest.SyncBuffer
		check(t, run(context.Background(), []string{"fetch", "-config", cfg}, env, &stdout, &stderr), stderr.String(), false)
	})
	t.Run("storage.path", func(t *testing.T) {
		raw, err := os.ReadFile(cfg)
		if err != nil {
			t.Fatal(err)
		}
		pg := filepath.Join(t.TempDir(), "feeds.yaml")
		lines := strings.Split(string(raw), "\n")
		for i, l := range lines {
			if strings.HasPrefix(l, "storage:") {
				lines[i] = `storage: { path: "POSTGRESQL://aggregator:s3cret@127.0.0.1:1/aggregator?connect_timeout=5" }`
			}
		}
		if err := os.WriteFile(pg, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
		var stdout, stderr apptest.SyncBuffer
		check(t, run(context.Background(), []string{"fetch", "-config", pg}, noenv, &stdout, &stderr), stderr.String(), false)
	})
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("the URL left %v in the working directory", names)
	}
}

func TestIsPostgres(t *testing.T) {
	for loc, want := range map[string]bool{
		"postgres://h/db":           true,
		"postgresql://u@h/db":       true,
		" POSTGRES://h/db":          true,
		"data/aggregator.db":        false,
		"/var/lib/postgres/file.db": false,
		"postgres.db":               false,
		"":                          false,
	} {
		if got := isPostgres(loc); got != want {
			t.Errorf("isPostgres(%q) = %v, want %v", loc, got, want)
		}
	}
}
