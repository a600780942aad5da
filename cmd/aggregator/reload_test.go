//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// saveLikeAnEditor replaces path by writing a temporary file beside it and
// renaming it over, as vim and most editors do.
func saveLikeAnEditor(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".swp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func jsonTitles(t *testing.T, base, channel string) (int, []string) {
	t.Helper()
	resp, body := get(t, base+"/feeds/"+channel+".json")
	var doc struct{ Items []struct{ Title string } }
	json.Unmarshal(body, &doc)
	var titles []string
	for _, it := range doc.Items {
		titles = append(titles, it.Title)
	}
	return resp.StatusCode, titles
}

const reloadHead = `server: { listen: "127.0.0.1:0", base_url: "http://aggregator.test" }
storage: { path: %q }
fetch: { interval: 1h, timeout: 5s, allow_private_networks: true, contact: "ops@example.org" }
`

func TestServeReloadsConfig(t *testing.T) {
	o := newOrigin(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "data", "aggregator.db")
	head := fmt.Sprintf(reloadHead, db)
	peninsula := fmt.Sprintf("  - { id: kei-peninsula, url: %q, title: \"The Peninsula\", tags: [think-tank] }\n", o.URL+"/peninsula.rss")
	configA := head + "sources:\n" + peninsula +
		"channels:\n  - { id: the-peninsula, title: The Peninsula, sources: [kei-peninsula] }\n"
	configB := head + "sources:\n" + peninsula +
		fmt.Sprintf("  - { id: 38north, url: %q, title: \"38 North\", tags: [north-korea] }\n", o.URL+"/northkorea.atom") +
		"channels:\n  - id: the-peninsula\n    title: The Peninsula\n    sources: [kei-peninsula]\n    exclude: [경제]\n" +
		"  - { id: north-korea, title: North Korea, tags: [north-korea] }\n"
	path := filepath.Join(dir, "feeds.yaml")
	if err := os.WriteFile(path, []byte(configA), 0o644); err != nil {
		t.Fatal(err)
	}
	base, logs, stop := startServeLogged(t, "-config", path)
	waitForItems(t, base, "the-peninsula", 2)
	if resp, _ := get(t, base+"/feeds/north-korea.json"); resp.StatusCode != 404 {
		t.Fatalf("north-korea before reload: %d", resp.StatusCode)
	}

	// A new source and a new channel, and a rule on the old channel.
	saveLikeAnEditor(t, path, configB)
	eventually(t, "the new channel", func() bool {
		code, titles := jsonTitles(t, base, "north-korea")
		return code == 200 && len(titles) == 1
	})
	if _, titles := jsonTitles(t, base, "the-peninsula"); len(titles) != 1 || titles[0] != "Alliance Politics After the Summit" {
		t.Errorf("the-peninsula after reload: %q, want only the item without 경제", titles)
	}
	if _, body := get(t, base+"/sources.opml"); !bytes.Contains(body, []byte(`xmlUrl="`+o.URL+`/northkorea.atom"`)) {
		t.Errorf("sources.opml lacks the new source:\n%s", body)
	}
	if o.count("/northkorea.atom") != 1 {
		t.Errorf("new source polled %d times, want 1", o.count("/northkorea.atom"))
	}

	// A broken file is refused with its problem logged; B keeps serving.
	broken := strings.Replace(configB, "title: North Korea, tags: [north-korea] }", "title: North Korea, tags: [north-korea], sources: [missing] }", 1)
	saveLikeAnEditor(t, path, broken)
	eventually(t, "the rejection in the log", func() bool {
		return strings.Contains(logs.String(), "config reload rejected")
	})
	wantProblem := path + `:12: channels[1].sources[0]: no source has id \"missing\"`
	if !strings.Contains(logs.String(), wantProblem) {
		t.Errorf("log lacks %s:\n%s", wantProblem, logs.String())
	}
	if code, titles := jsonTitles(t, base, "north-korea"); code != 200 || len(titles) != 1 {
		t.Errorf("after a broken reload: north-korea %d %q", code, titles)
	}

	// SIGHUP reloads too: back to A drops the new channel.
	n := strings.Count(logs.String(), "config reloaded")
	saveLikeAnEditor(t, path, configA)
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	eventually(t, "the reload back to A", func() bool {
		resp, _ := get(t, base+"/feeds/north-korea.json")
		return resp.StatusCode == 404 && strings.Count(logs.String(), "config reloaded") > n
	})
	eventually(t, "a reload on SIGHUP", func() bool { return strings.Contains(logs.String(), "why=SIGHUP") })
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	// preview against the store serve left: B's channel against A's.
	var stdout, stderr bytes.Buffer
	pathB := filepath.Join(dir, "feeds.b.yaml")
	os.WriteFile(pathB, []byte(configB), 0o644)
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

func TestServePrunesToRetention(t *testing.T) {
	o := newOrigin(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "feeds.yaml")
	config := fmt.Sprintf(reloadHead, filepath.Join(dir, "a.db")) +
		fmt.Sprintf("sources:\n  - { id: kei-peninsula, url: %q, keep: { items: 1 } }\n", o.URL+"/peninsula.rss") +
		"channels:\n  - { id: the-peninsula, title: The Peninsula, sources: [kei-peninsula] }\n"
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	base, logs, _ := startServeLogged(t, "-config", path)
	eventually(t, "the prune", func() bool {
		return strings.Contains(logs.String(), "msg=pruned source=kei-peninsula items=1 batches=1")
	})
	eventually(t, "the channel re-rendered", func() bool {
		_, titles := jsonTitles(t, base, "the-peninsula")
		return len(titles) == 1 && titles[0] == "Alliance Politics After the Summit"
	})
}

// TestServeRefusesEmptyOrTruncatedReload: an empty feeds.yaml (as an editor
// or a full disk leaves it for a moment), one of comments only, and one cut
// short after its sources are each refused on reload with the problem
// logged, and the channel keeps being served; a file that says
// "sources: []" and "channels: []" unpublishes everything, as asked.
func TestServeRefusesEmptyOrTruncatedReload(t *testing.T) {
	o := newOrigin(t)
	dir := t.TempDir()
	head := fmt.Sprintf(reloadHead, filepath.Join(dir, "data", "aggregator.db"))
	sources := "sources:\n" + fmt.Sprintf("  - { id: kei-peninsula, url: %q, title: \"The Peninsula\" }\n", o.URL+"/peninsula.rss")
	full := head + sources + "channels:\n  - { id: the-peninsula, title: The Peninsula, sources: [kei-peninsula] }\n"
	path := filepath.Join(dir, "feeds.yaml")
	if err := os.WriteFile(path, []byte(full), 0o644); err != nil {
		t.Fatal(err)
	}
	base, logs, stop := startServeLogged(t, "-config", path)
	waitForItems(t, base, "the-peninsula", 2)

	for _, tc := range []struct{ name, content, problem string }{
		{"zero bytes", "", "the file is empty (nothing but white space and comments): refusing to unpublish every channel"},
		{"comments only", "# feeds.yaml\n\n   \n", "the file is empty"},
		{"cut after the sources", head + sources, `channels: missing, while the running config has 1 channel: refusing to unpublish them all; write \"channels: []\" to mean it`},
	} {
		n := strings.Count(logs.String(), "config reload rejected")
		// Written in place, as a full disk or a crashed editor leaves it.
		if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
			t.Fatal(err)
		}
		eventually(t, tc.name+": the rejection in the log", func() bool {
			return strings.Count(logs.String(), "config reload rejected") > n
		})
		if !strings.Contains(logs.String(), tc.problem) {
			t.Errorf("%s: log lacks %q:\n%s", tc.name, tc.problem, logs.String())
		}
		if code, titles := jsonTitles(t, base, "the-peninsula"); code != 200 || len(titles) != 2 {
			t.Errorf("%s: the channel after the refused reload: %d %q", tc.name, code, titles)
		}
	}

	// Said explicitly, everything goes.
	saveLikeAnEditor(t, path, head+"sources: []\nchannels: []\n")
	eventually(t, "the channel unpublished", func() bool {
		resp, _ := get(t, base+"/feeds/the-peninsula.json")
		return resp.StatusCode == 404
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
