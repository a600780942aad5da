package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	t.Run("shipped feeds.yaml is clean", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), []string{"check", "-config", "../../feeds.yaml"}, noenv, &stdout, &stderr); err != nil {
			t.Fatalf("check: %v\n%s", err, stderr.String())
		}
		if !strings.Contains(stdout.String(), "ok") {
			t.Errorf("stdout=%q", stdout.String())
		}
	})
	t.Run("every problem is reported with its line", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "feeds.yaml")
		bad := "sources:\n  - { id: a, url: \"not a url\" }\n  - { id: a, url: \"https://example.org/feed\", intervall: 1h }\nchannels:\n  - { id: c, title: C, sources: [missing] }\n"
		if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), []string{"check"}, func(k string) string {
			if k == "AGGREGATOR_CONFIG" {
				return path
			}
			return ""
		}, &stdout, &stderr)
		if err == nil || exitCode(err) != 1 {
			t.Fatalf("err=%v, want a failure with exit status 1", err)
		}
		for _, want := range []string{"feeds.yaml:2:", "feeds.yaml:3:", "feeds.yaml:5:", "missing"} {
			if !strings.Contains(stderr.String(), want) {
				t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
			}
		}
	})
}

func TestFetch(t *testing.T) {
	o := newOrigin(t)
	cfg := writeConfig(t, o.URL, "  - { id: gone, url: \""+o.URL+"/missing.xml\", title: Gone }")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"fetch", "-config", cfg}, noenv, &stdout, &stderr)
	if !errors.Is(err, errReported) {
		t.Fatalf("fetch with a failing source: err=%v, want errReported\n%s%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"kei-peninsula", "200", "gone", "404", "3 sources polled, 1 failed, 3 new items"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// A second pass is conditional and finds nothing new.
	stdout.Reset()
	run(context.Background(), []string{"fetch", "-config", cfg}, noenv, &stdout, &stderr)
	if !strings.Contains(stdout.String(), "0 new items") {
		t.Errorf("second fetch:\n%s", stdout.String())
	}
}

func TestUsage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"bogus"}, noenv, &stdout, &stderr); exitCode(err) != 2 {
		t.Errorf("unknown command: err=%v, want exit status 2", err)
	}
	stderr.Reset()
	if err := run(context.Background(), []string{"serve", "-help"}, noenv, &stdout, &stderr); err != nil {
		t.Errorf("serve -help: %v", err)
	}
	for _, want := range []string{"AGGREGATOR_CONFIG", "AGGREGATOR_DB", "AGGREGATOR_ADDR"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("serve -help lacks %s:\n%s", want, stderr.String())
		}
	}
}
