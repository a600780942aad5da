package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/app/apptest"
	"github.com/kpolicy/aggregator/internal/config"
	"github.com/kpolicy/aggregator/internal/store/bolt"
)

// The service's tests run the App with no socket: origins and subscribers
// are handlers on apptest's in-process network, the App reaches them
// through apptest.Transport, and the tests read what it serves through its
// Handler, registered at its base_url on the same network.

// origin serves the files of testdata/ on the in-process network and
// counts the requests per path.
type origin struct {
	*apptest.Files
	URL string
}

func newOrigin(t *testing.T) *origin {
	t.Helper()
	f := apptest.NewFiles("testdata")
	return &origin{Files: f, URL: apptest.Serve(t, f)}
}

// writeConfig writes a feeds.yaml for two sources of the origin and returns its path.
func writeConfig(t *testing.T, originURL, extra string) string {
	t.Helper()
	cfg := fmt.Sprintf(`server: { base_url: "http://aggregator.test" }
storage: { path: %q }
fetch: { interval: 1h, timeout: 5s, allow_private_networks: true, host_gap: 0s }
sources:
  - { id: kei-peninsula, url: %q, title: "The Peninsula (KEI)", tags: [think-tank] }
  - { id: 38north, url: %q, title: "38 North", tags: [think-tank, north-korea] }
%s
channels:
  - { id: the-peninsula, title: The Peninsula, description: "KEI's blog", sources: [kei-peninsula] }
  - { id: think-tanks, title: Think tanks, description: "Everything from think tanks", tags: [think-tank] }
`, filepath.Join(t.TempDir(), "db", "aggregator.db"), originURL+"/peninsula.rss", originURL+"/northkorea.atom", extra)
	return writeFile(t, cfg)
}

// writeFile writes a feeds.yaml and returns its path.
func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "feeds.yaml")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// openStore opens the store a config names, as serve does.
func openStore(t testing.TB, cfg config.Config) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(cfg.Storage.Path, bolt.Options{MaxSize: cfg.Storage.MaxSize, TitleWindow: cfg.Dedupe.TitleWindow})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// running is an App under test, served at its base_url on the in-process
// network, its log kept.
type running struct {
	*App
	db   *bolt.DB
	base string
	logs *apptest.SyncBuffer
	// stop ends Run, closes the store and returns Run's error.
	stop func() error
}

// startApp runs the App of the config at path, as serve would: the
// config file watched and read again on reload, the store opened. It
// returns once Run has started every loop; the test's cleanup stops it.
func startApp(t *testing.T, path string, opt ...func(*Deps)) *running {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	db := openStore(t, cfg)
	logs := &apptest.SyncBuffer{}
	started := make(chan struct{})
	d := Deps{
		Store:     db,
		Logger:    slog.New(slog.NewTextHandler(logs, nil)),
		Transport: apptest.Transport(),
		Load:      func() (config.Config, error) { return config.Load(path) },
		Watch:     path,
		Started:   func() { close(started) },
	}
	for _, o := range opt {
		o(&d)
	}
	a, err := New(cfg, d)
	if err != nil {
		db.Close()
		t.Fatalf("New: %v", err)
	}
	remove := apptest.ServeAt(t, cfg.Server.BaseURL, a.Handler())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	select {
	case <-started:
	case err := <-done:
		cancel()
		db.Close()
		t.Fatalf("Run returned before it started: %v\n%s", err, logs)
	}
	r := &running{App: a, db: db, base: cfg.Server.BaseURL, logs: logs}
	var once sync.Once
	var stopErr error
	r.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(40 * time.Second):
				stopErr = fmt.Errorf("Run did not return\n%s", logs)
				return // the store is still in use
			}
			remove()
			if err := db.Close(); err != nil {
				stopErr = err
			}
		})
		return stopErr
	}
	t.Cleanup(func() {
		if err := r.stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return r
}
