package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kpolicy/aggregator/internal/app/apptest"
	"github.com/kpolicy/aggregator/internal/config"
	"github.com/kpolicy/aggregator/internal/store/postgres/pgtest"
)

// pgConfig is the config at path with storage.path the PostgreSQL url
// and the search index in a directory of the test's.
func pgConfig(t *testing.T, path, url string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(l, "storage:") {
			l = "storage: { path: \"" + url + "\", search: \"" + filepath.Join(t.TempDir(), "search") + "\" }"
		}
		lines = append(lines, l)
	}
	out := filepath.Join(t.TempDir(), "feeds.yaml")
	if err := os.WriteFile(out, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestMigrateServesSameDocument: a bbolt store that serve filled,
// migrated to PostgreSQL, is served by serve on PostgreSQL as the same
// Atom document, byte for byte (the same ETag), without polling again;
// migrating into it again is refused.
func TestMigrateServesSameDocument(t *testing.T) {
	url := pgtest.Schema(t)
	o := newOrigin(t)
	cfg := writeConfig(t, o.URL, "")
	c, err := config.Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	document := func(base string) (string, []byte) {
		t.Helper()
		resp, body := get(t, base+"/feeds/think-tanks.atom")
		if resp.StatusCode != 200 {
			t.Fatalf("GET think-tanks.atom: %d", resp.StatusCode)
		}
		return resp.Header.Get("ETag"), body
	}

	base, stop := startServe(t, "-config", cfg)
	waitForItems(t, base, "think-tanks", 3)
	wantTag, want := document(base)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	polled := o.Count("/peninsula.rss")

	var stdout, stderr apptest.SyncBuffer
	if err := run(context.Background(), []string{"migrate", "-from", c.Storage.Path, "-to", url}, noenv, &stdout, &stderr); err != nil {
		t.Fatalf("migrate: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, kind := range []string{"source states", "stories", "aliases", "tombstones", "websub subscriptions", "subscriber days", "every kind matches"} {
		if !strings.Contains(out, kind) {
			t.Errorf("migrate's report lacks %q:\n%s", kind, out)
		}
	}

	base, stop = startServe(t, "-config", pgConfig(t, cfg, url))
	waitForItems(t, base, "think-tanks", 3)
	gotTag, got := document(base)
	if !bytes.Equal(got, want) || gotTag != wantTag {
		t.Errorf("from PostgreSQL after migrate (ETag %s):\n%s\nfrom bbolt (ETag %s):\n%s", gotTag, got, wantTag, want)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if n := o.Count("/peninsula.rss"); n != polled {
		t.Errorf("serve on the copy polled again (%d requests, was %d): the copied state says not due", n, polled)
	}

	var again apptest.SyncBuffer
	err = run(context.Background(), []string{"migrate", "-from", c.Storage.Path, "-to", url}, noenv, &again, &stderr)
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("migrate into a filled target: %v, want a refusal", err)
	}
}
