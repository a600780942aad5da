package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/app/apptest"
)

// TestServeSite runs the real serve against the origin and checks the
// staff routes: readyz after the first poll, metrics, admin backup, JSON
// logs; then the offline commands backup, compact and reindex on its
// database.
func TestServeSite(t *testing.T) {
	o := newOrigin(t)
	cfgPath := writeConfig(t, o.URL, "")
	t.Setenv("AGGREGATOR_ADMIN_TOKEN", "tok") // run reads it through getenv below
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout, stderr := &apptest.SyncBuffer{}, &apptest.SyncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "-config", cfgPath, "-log-format", "json"}, os.Getenv, stdout, stderr)
	}()
	base := waitListeningJSON(t, stdout, stderr, done)
	waitForItems(t, base, "think-tanks", 3)
	apptest.WaitForSearch(t, base, "협력")       // kei-peninsula's items are indexed
	apptest.WaitForSearch(t, base, "Yongbyon") // and 38north's
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if resp, _ := get(t, base+"/readyz"); resp.StatusCode == 200 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("never ready: %d", resp.StatusCode)
		}
	}
	get(t, base+"/feeds/think-tanks.rss", "User-Agent", "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 9 subscribers; )")

	_, body := get(t, base+"/metrics")
	for _, want := range []string{`aggregator_polls_total{result="ok",source="kei-peninsula"} 1`,
		`aggregator_feed_requests_total{channel="think-tanks",code="200",format="rss"} 1`,
		`aggregator_feed_reported_subscribers{channel="think-tanks"} 9`, `aggregator_search_index_items 3`, "aggregator_store_size_bytes ", "go_goroutines"} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if resp, _ := get(t, base+"/admin/backup"); resp.StatusCode != 401 {
		t.Errorf("backup without token: %d", resp.StatusCode)
	}
	resp, backup := get(t, base+"/admin/backup", "Authorization", "Bearer tok")
	if resp.StatusCode != 200 || len(backup) < 4096 {
		t.Errorf("backup: %d, %d bytes", resp.StatusCode, len(backup))
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), `"msg":"poll","source":"kei-peninsula"`) {
		t.Errorf("no JSON poll line in the log:\n%.600s", stderr.String())
	}

	dbPath := extractStoragePath(t, cfgPath)
	copyPath := filepath.Join(t.TempDir(), "copy.db")
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"backup", "-config", cfgPath, copyPath}, noenv, &out, &errOut); err != nil {
		t.Fatalf("backup: %v\n%s", err, errOut.String())
	}
	if info, err := os.Stat(copyPath); err != nil || info.Size() == 0 {
		t.Errorf("backup file: %v", err)
	}
	out.Reset()
	if err := run(context.Background(), []string{"compact", "-config", cfgPath}, noenv, &out, &errOut); err != nil {
		t.Fatalf("compact: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "compacted "+dbPath) {
		t.Errorf("compact said %q", out.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"reindex", "-config", cfgPath}, noenv, &out, &errOut); err != nil {
		t.Fatalf("reindex: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "indexed 3 items") {
		t.Errorf("reindex said %q", out.String())
	}
	if err := run(context.Background(), []string{"backup", "-config", cfgPath}, noenv, &out, &errOut); err == nil || exitCode(err) != 2 {
		t.Errorf("backup without FILE: %v, want a usage error", err)
	}
}

// extractStoragePath reads storage.path back from a config written by writeConfig.
func extractStoragePath(t *testing.T, cfgPath string) string {
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`storage: \{ path: "([^"]+)" \}`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no storage.path in %s", b)
	}
	return string(m[1])
}
