package app

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/kpolicy/aggregator/internal/config"
	"github.com/kpolicy/aggregator/internal/server"
)

// reloadDebounce merges the burst of events an editor's save makes (write
// a temporary file, rename it over feeds.yaml) into one reload.
const reloadDebounce = 300 * time.Millisecond

// errNoLoader refuses a reload when Deps.Load is nil.
var errNoLoader = errors.New("this server cannot read its config again")

// reloadConfig loads the config again and, if it is valid and fit to
// replace the running one (config.CheckReload: not empty, not cut short,
// not losing every source or channel unless it says so), publishes its
// channels. It logs every problem of a refused file and returns false;
// the running config stays.
func (a *App) reloadConfig(ctx context.Context, why string) (*config.Config, bool) {
	old := a.cfg.Load()
	var next config.Config
	err := errNoLoader
	if a.d.Load != nil {
		next, err = a.d.Load()
	}
	if err == nil {
		err = next.CheckReload(*old)
	}
	if err != nil {
		probs := config.Problems(err)
		rej := &server.RejectedReload{At: a.now(), Why: why}
		for _, p := range probs {
			rej.Problems = append(rej.Problems, p.Error())
		}
		if len(probs) == 0 {
			rej.Problems = []string{err.Error()}
		}
		a.rejected.Store(rej)
		for _, p := range probs {
			a.log.Error("config reload rejected; still serving the previous config", "why", why, "problem", p.Error())
		}
		if len(probs) == 0 {
			a.log.Error("config reload rejected; still serving the previous config", "why", why, "err", err)
		}
		return nil, false
	}
	for _, k := range []struct {
		key      string
		old, new *string
	}{
		{"server.listen", &old.Server.Listen, &next.Server.Listen},
		{"server.base_url", &old.Server.BaseURL, &next.Server.BaseURL},
		{"storage.path", &old.Storage.Path, &next.Storage.Path},
	} {
		if *k.old != *k.new {
			a.log.Warn("config reload: this key needs a restart; keeping the running value", "key", k.key, "running", *k.old, "file", *k.new)
			*k.new = *k.old
		}
	}
	for _, w := range next.Warnings() {
		a.log.Warn("config", "warning", w)
	}
	// The membership first: from here on every read re-checks what it
	// shows against the new rules, while the indexes of changed channels
	// are built in the background.
	if err := a.members.Configure(ctx, next.Channels, next.Sources); err != nil {
		a.log.Error("config reload: channels not configured; still serving the previous config", "err", err)
		a.rejected.Store(&server.RejectedReload{At: a.now(), Why: why, Problems: []string{err.Error()}})
		return nil, false
	}
	if err := a.cache.Configure(next.Channels, next.Sources); err != nil {
		a.log.Error("config reload: channels not configured; still serving the previous config", "err", err)
		a.rejected.Store(&server.RejectedReload{At: a.now(), Why: why, Problems: []string{err.Error()}})
		return nil, false
	}
	a.cache.SetSite(next.Site) // the site's identity is only rendering: it applies at once
	a.cfg.Store(&next)
	loaded := a.now()
	a.loaded.Store(&loaded)
	a.rejected.Store(nil)
	a.log.Info("config reloaded", "why", why, "sources", len(next.Sources), "channels", len(next.Channels))
	return &next, true
}

// watchConfig requests a reload when Deps.Watch is written, created,
// renamed or removed, debounced. It watches the file's directory, so a save
// that renames a new file over the old one is seen. Its goroutine joins wg
// and stops when ctx ends.
func (a *App) watchConfig(ctx context.Context, wg *sync.WaitGroup) error {
	abs, err := filepath.Abs(a.d.Watch)
	if err != nil {
		return err
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	if err := w.Add(filepath.Dir(abs)); err != nil {
		w.Close()
		return errors.Join(err, errors.New("watch "+filepath.Dir(abs)))
	}
	wg.Go(func() {
		defer w.Close()
		debounce := time.NewTimer(time.Hour)
		debounce.Stop()
		defer debounce.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-w.Events:
				if !ok {
					return
				}
				if filepath.Clean(ev.Name) == abs && ev.Op&(fsnotify.Write|fsnotify.Create|fsnotify.Rename|fsnotify.Remove) != 0 {
					debounce.Reset(reloadDebounce)
				}
			case err, ok := <-w.Errors:
				if !ok {
					return
				}
				a.log.Warn("watch config", "err", err)
			case <-debounce.C:
				a.Reload("file changed")
			}
		}
	})
	return nil
}
