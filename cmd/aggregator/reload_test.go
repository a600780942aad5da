//go:build unix

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/kpolicy/aggregator/internal/app/apptest"
)

const reloadHead = `server: { listen: "127.0.0.1:0", base_url: "http://aggregator.test" }
storage: { path: %q }
fetch: { interval: 1h, timeout: 5s, allow_private_networks: true, contact: "ops@example.org" }
`

// TestServeReloadsOnSIGHUP: the signal reaches the running service, which
// reads the config again (how a reload is judged is internal/app's tests').
func TestServeReloadsOnSIGHUP(t *testing.T) {
	o := newOrigin(t)
	base, logs, stop := startServeLogged(t, "-config", writeConfig(t, o.URL, ""))
	waitForItems(t, base, "think-tanks", 3)
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	apptest.Eventually(t, "a reload on SIGHUP", func() bool {
		return strings.Contains(logs.String(), `msg="config reloaded" why=SIGHUP`)
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// TestPreviewAgainstRunningConfig polls with config A, then previews
// config B's version of a channel against A's (the running config, named
// by AGGREGATOR_CONFIG) on the store the polls left.
func TestPreviewAgainstRunningConfig(t *testing.T) {
	o := newOrigin(t)
	dir := t.TempDir()
	head := fmt.Sprintf(reloadHead, filepath.Join(dir, "data", "aggregator.db"))
	peninsula := fmt.Sprintf("  - { id: kei-peninsula, url: %q, title: \"The Peninsula\", tags: [think-tank] }\n", o.URL+"/peninsula.rss")
	configA := head + "sources:\n" + peninsula +
		"channels:\n  - { id: the-peninsula, title: The Peninsula, sources: [kei-peninsula] }\n"
	configB := head + "sources:\n" + peninsula +
		fmt.Sprintf("  - { id: 38north, url: %q, title: \"38 North\", tags: [north-korea] }\n", o.URL+"/northkorea.atom") +
		"channels:\n  - id: the-peninsula\n    title: The Peninsula\n    sources: [kei-peninsula]\n    exclude: [경제]\n" +
		"  - { id: north-korea, title: North Korea, tags: [north-korea] }\n"
	path, pathB := filepath.Join(dir, "feeds.yaml"), filepath.Join(dir, "feeds.b.yaml")
	if err := os.WriteFile(path, []byte(configA), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pathB, []byte(configB), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"fetch", "-config", path}, noenv, &stdout, &stderr); err != nil {
		t.Fatalf("fetch: %v\n%s%s", err, stdout.String(), stderr.String())
	}

	stdout.Reset()
	env := func(k string) string {
		if k == "AGGREGATOR_CONFIG" {
			return path
		}
		return ""
	}
	if err := run(context.Background(), []string{"preview", "the-peninsula", "-config", pathB}, env, &stdout, &stderr); err != nil {
		t.Fatalf("preview: %v\n%s", err, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"channel the-peninsula \"The Peninsula\" with " + pathB + ": 1 items (0 pinned, limit 50; 1 members in all)",
		"Alliance Politics After the Summit",
		"not in the channel (1):",
		"changes against the running config " + path + ": 1\n  - ",
		`now: excluded by channel the-peninsula rule "경제" (` + pathB + `:11 channels[0].exclude[0])`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("preview output lacks %q:\n%s", want, out)
		}
	}
}
