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

// A postgres:// storage location is refused with a clear message, by every
// command that opens the store, whether it comes from -db, AGGREGATOR_DB
// or storage.path, and with its password kept out of the message. Nothing
// is created on disk under the URL's name.
func TestPostgresNotBuiltIn(t *testing.T) {
	const url = "postgres://aggregator:s3cret@127.0.0.1/aggregator"
	dir := t.TempDir()
	t.Chdir(dir)
	cfg := writeConfig(t, "http://127.0.0.1:1", "")
	commands := [][]string{
		{"fetch"},
		{"serve", "-addr", "127.0.0.1:0"},
		{"backup", filepath.Join(dir, "copy.db")},
		{"compact"},
		{"reindex"},
	}
	check := func(t *testing.T, err error, stderr string) {
		t.Helper()
		if err == nil {
			t.Fatal("no error")
		}
		msg := err.Error() + stderr
		if !strings.Contains(msg, "PostgreSQL storage is not built in this version") {
			t.Errorf("error %q does not say PostgreSQL is not built in", msg)
		}
		if strings.Contains(msg, "s3cret") {
			t.Errorf("error %q shows the password", msg)
		}
		if !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("error %v does not wrap errors.ErrUnsupported", err)
		}
	}
	for _, c := range commands {
		t.Run(c[0]+" -db", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			args := append([]string{c[0], "-config", cfg, "-db", url}, c[1:]...)
			var stdout, stderr apptest.SyncBuffer
			check(t, run(ctx, args, noenv, &stdout, &stderr), stderr.String())
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
		check(t, run(context.Background(), []string{"fetch", "-config", cfg}, env, &stdout, &stderr), stderr.String())
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
				lines[i] = `storage: { path: "POSTGRESQL://aggregator:s3cret@db.example/aggregator" }`
			}
		}
		if err := os.WriteFile(pg, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
		var stdout, stderr apptest.SyncBuffer
		check(t, run(context.Background(), []string{"fetch", "-config", pg}, noenv, &stdout, &stderr), stderr.String())
	})
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("refusing the URL left %v in the working directory", names)
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
