package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmcdole/gofeed/atom"

	"github.com/kpolicy/aggregator/internal/app/apptest"
	"github.com/kpolicy/aggregator/internal/store/postgres"
	"github.com/kpolicy/aggregator/internal/store/postgres/pgtest"
)

// TestServePostgres serves channels from PostgreSQL: serve on a storage.path URL
// polls the origin once and publishes the same entries, in the same order,
// as it does from a bbolt file; a second instance on the same database
// serves the same document without polling anything new. backup is refused
// with what to use instead.
func TestServePostgres(t *testing.T) {
	url := pgtest.Schema(t)
	o := newOrigin(t)
	cfg := writeConfig(t, o.URL, "")
	// The PostgreSQL instances keep their search index in a directory of
	// the test's (storage.search), not in the working directory.
	pgCfg := pgConfig(t, cfg, url)

	entries := func(base string) []string {
		t.Helper()
		_, body := get(t, base+"/feeds/think-tanks.atom")
		f, err := (&atom.Parser{}).Parse(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("parse atom: %v\n%s", err, body)
		}
		var out []string
		for _, e := range f.Entries {
			out = append(out, e.ID+" "+e.Title)
		}
		return out
	}

	// The schema is created before serve starts, so that its start (the
	// helper waits 10 s for the address) is not a migration's, on a
	// loaded machine.
	db, err := postgres.Open(context.Background(), url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	boltBase, stopBolt := startServe(t, "-config", cfg)
	waitForItems(t, boltBase, "think-tanks", 3)
	want := entries(boltBase)
	if err := stopBolt(); err != nil {
		t.Fatal(err)
	}

	base, stop := startServe(t, "-config", pgCfg)
	waitForItems(t, base, "think-tanks", 3)
	got := entries(base)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("from PostgreSQL:\n%s\nfrom bbolt:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	polled := o.Count("/peninsula.rss")
	base2, stop2 := startServe(t, "-config", pgCfg)
	waitForItems(t, base2, "think-tanks", 3)
	if again := entries(base2); strings.Join(again, "\n") != strings.Join(want, "\n") {
		t.Errorf("after a restart on the same database:\n%s", strings.Join(again, "\n"))
	}
	if err := stop2(); err != nil {
		t.Fatal(err)
	}
	if n := o.Count("/peninsula.rss"); n != polled {
		t.Errorf("the second instance polled again (%d requests, was %d): the saved state says not due", n, polled)
	}

	var stdout, stderr apptest.SyncBuffer
	copyPath := filepath.Join(t.TempDir(), "copy")
	err = run(context.Background(), []string{"backup", "-config", pgCfg, copyPath}, noenv, &stdout, &stderr)
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("backup of PostgreSQL: %v, want errors.ErrUnsupported", err)
	}
	if _, err := os.Stat(copyPath); err == nil {
		t.Error("backup wrote a file")
	}
}
