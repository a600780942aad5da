package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kpolicy/aggregator/internal/config"
)

func TestOPMLExportImportRoundTrip(t *testing.T) {
	cfg := writeConfig(t, "https://origin.example", "")
	var out, errs bytes.Buffer
	if err := run(context.Background(), []string{"opml", "export", "-config", cfg}, noenv, &out, &errs); err != nil {
		t.Fatalf("export: %v\n%s", err, errs.String())
	}
	exported := filepath.Join(t.TempDir(), "sources.opml")
	if err := os.WriteFile(exported, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `<outline text="think-tank" title="think-tank">`) {
		t.Errorf("export:\n%s", out.String())
	}

	// Against the config it came from, every source is a duplicate.
	out.Reset()
	if err := run(context.Background(), []string{"opml", "import", "-config", cfg, exported}, noenv, &out, &errs); err != nil {
		t.Fatalf("import: %v", err)
	}
	if !strings.HasPrefix(out.String(), "# 0 sources from sources.opml") || !strings.Contains(out.String(), "is already existing source 38north; skipped") {
		t.Errorf("import against the same config:\n%s", out.String())
	}

	// Into an empty feeds.yaml: the same sources and tags come back, once
	// each although 38north sits under two tags.
	empty := filepath.Join(t.TempDir(), "feeds.yaml")
	os.WriteFile(empty, nil, 0o644)
	out.Reset()
	if err := run(context.Background(), []string{"opml", "import", exported, "-config", empty}, noenv, &out, &errs); err != nil {
		t.Fatalf("import: %v", err)
	}
	c, err := config.Parse(strings.NewReader("sources:\n"+out.String()), "pasted.yaml")
	if err != nil {
		t.Fatalf("pasted entries: %v\n%s", err, out.String())
	}
	if len(c.Sources) != 2 {
		t.Fatalf("sources=%d:\n%s", len(c.Sources), out.String())
	}
	s, _ := c.Source("38-north")
	if s.URL != "https://origin.example/northkorea.atom" || strings.Join(s.Tags, ",") != "think-tank,north-korea" {
		t.Errorf("38-north=%+v", s)
	}
}

func TestOPMLImportMalformed(t *testing.T) {
	dir := os.Getenv("AGGREGATOR_CORPUS")
	if dir == "" {
		t.Skip("AGGREGATOR_CORPUS is not set")
	}
	var out, errs bytes.Buffer
	err := run(context.Background(), []string{"opml", "import", filepath.Join(dir, "opml", "plenaryapp", "Hong Kong SAR China.opml")},
		func(k string) string {
			if k == "AGGREGATOR_CONFIG" {
				return filepath.Join(t.TempDir(), "none.yaml")
			}
			return ""
		}, &out, &errs)
	if err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), "Hong Kong SAR China.opml:9: not well-formed XML") {
		t.Errorf("err=%v", err)
	}
}

func TestPreviewUsage(t *testing.T) {
	cfg := writeConfig(t, "https://origin.example", "")
	var out, errs bytes.Buffer
	if err := run(context.Background(), []string{"preview", "-config", cfg}, noenv, &out, &errs); exitCode(err) != 2 {
		t.Errorf("no channel: %v", err)
	}
	if err := run(context.Background(), []string{"preview", "nope", "-config", cfg}, noenv, &out, &errs); exitCode(err) != 2 || !strings.Contains(err.Error(), "channels: the-peninsula, think-tanks") {
		t.Errorf("unknown channel: %v", err)
	}
	// The database does not exist yet: preview never creates it.
	err := run(context.Background(), []string{"preview", "the-peninsula", "-config", cfg}, noenv, &out, &errs)
	if err == nil || !strings.Contains(err.Error(), "preview needs the database read-only") {
		t.Errorf("missing database: %v", err)
	}
}
