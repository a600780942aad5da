package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/kpolicy/aggregator/internal/app/apptest"
)

// findChromium returns the path of a Chromium or Chrome binary, or "".
func findChromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// TestBrowser drives headless Chromium over the real server after a poll:
// the index, a channel page, an item page and a search for a Korean word
// must render with the expected text and no console error (a CSP
// violation, a failed load, a script error), and each is screenshotted into
// $AGGREGATOR_ARTIFACTS (a temporary directory when unset), at 1280 px and
// at phone width (390 px), where nothing may be wider than the viewport (an
// item's long original link wraps); and a channel in dark mode.
func TestBrowser(t *testing.T) {
	bin := findChromium()
	if bin == "" {
		t.Skip("chromium is not installed (apt-get install chromium): skipping the browser test")
	}
	artifacts := os.Getenv("AGGREGATOR_ARTIFACTS")
	if artifacts == "" {
		artifacts = t.TempDir()
	}
	artifacts = filepath.Join(artifacts, "browser")
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", artifacts)

	o := newOrigin(t)
	// A third think tank whose item's original link is one long token: at
	// phone width it must wrap, not widen the page.
	longSource := fmt.Sprintf("  - { id: long-links, url: %q, title: \"Long links\", tags: [think-tank] }", o.URL+"/long-link.rss")
	base, _ := startServe(t, "-config", writeConfig(t, o.URL, longSource))
	waitForItems(t, base, "think-tanks", 4)
	item := apptest.WaitForSearch(t, base, "협력")
	longItem := apptest.WaitForSearch(t, base, "verification")

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(bin),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	defer cancelTimeout()

	// Collect every console message, exception and browser log entry while
	// the pages load.
	var (
		mu       sync.Mutex
		messages []chromedp.ConsoleMessage
	)
	consoleCtx, stopConsole := context.WithCancel(ctx)
	console := chromedp.Console(consoleCtx)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		for m, err := range console {
			if err != nil {
				return
			}
			mu.Lock()
			messages = append(messages, m)
			mu.Unlock()
		}
	}()

	pages := []struct {
		name, path string
		want       []string
	}{
		{"index", "/", []string{"Think tanks", "Satellite Imagery of Yongbyon", "한반도 정세와 경제 협력"}},
		{"channel", "/channels/the-peninsula", []string{"The Peninsula", "Subscribe", "Alliance Politics After the Summit", "by Jane Kim", "Alliance"}},
		{"item", item, []string{"한반도 정세와 경제 협력", "남북 경제 협력의 전망을 살펴본다.", "Return to The Peninsula", "Return to Think tanks"}},
		{"item-long-link", longItem, []string{"A Verification Regime for the Peninsula", "Return to Think tanks", "ref=K7QXW2M9PL4RT8ZB3NV6YH1JD5FC0GSA9XE2UKQ7MWT4BRZ8LP3NV6HY1JD5CF0GS"}},
		{"search", "/search?q=" + url.QueryEscape("협력"), []string{"Total index: 4 publications", "1 result", "한반도 정세와 경제 협력"}},
	}
	for _, width := range []int{1280, 390} {
		viewport := chromedp.EmulateViewport(1280, 900)
		if width == 390 {
			viewport = chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile)
		}
		for _, page := range pages {
			name := fmt.Sprintf("%s-%d", page.name, width)
			t.Run(name, func(t *testing.T) {
				if err := chromedp.Do(ctx, viewport, chromedp.Navigate(base+page.path), chromedp.WaitReady(chromedp.CSS("footer"))); err != nil {
					t.Fatalf("%s: %v", page.path, err)
				}
				text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
				if err != nil {
					t.Fatal(err)
				}
				shot(t, ctx, filepath.Join(artifacts, name+".png"))
				for _, w := range page.want {
					if !strings.Contains(strings.Join(strings.Fields(text), ""), strings.Join(strings.Fields(w), "")) {
						t.Errorf("%s shows no %q; its text:\n%s", page.path, w, text)
					}
				}
				// Nothing is wider than the viewport: the page does not
				// scroll sideways, and no element (a long URL, a table, a
				// heading) is clipped by an ancestor's overflow.
				wide, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](overflowScript))
				if err != nil {
					t.Fatal(err)
				}
				for _, w := range wide {
					t.Errorf("at %d px, %s: %s", width, page.path, w)
				}
				if page.name == "search" {
					if marked, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main mark"))); err != nil || marked != "협력" {
						t.Errorf("search highlights %q (%v), want 협력", marked, err)
					}
				}
			})
		}
	}

	// A channel in dark mode.
	err := chromedp.Do(ctx,
		chromedp.EmulateViewport(1280, 900),
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}},
			})
			return err
		}),
		chromedp.Navigate(base+"/channels/think-tanks"), chromedp.WaitReady(chromedp.CSS("footer")))
	if err != nil {
		t.Fatal(err)
	}
	shot(t, ctx, filepath.Join(artifacts, "channel-dark.png"))

	stopConsole()
	<-collected
	mu.Lock()
	defer mu.Unlock()
	for _, m := range messages {
		if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning || m.IsException() {
			t.Errorf("browser console: %s (%s)", m, m.URL)
		}
	}
}

// overflowScript lists, as "TAG.CLASS: N px wide", the page itself when
// it scrolls sideways and every element whose content is wider than its
// box while its overflow hides or scrolls the rest, or whose right edge is
// past the viewport.
const overflowScript = `(() => {
	const out = [];
	const root = document.documentElement;
	if (root.scrollWidth > root.clientWidth) out.push("the page: " + root.scrollWidth + " px wide in " + root.clientWidth);
	for (const el of document.body.querySelectorAll("*")) {
		const r = el.getBoundingClientRect();
		const name = el.tagName.toLowerCase() + (el.className ? "." + el.className : "");
		if (r.width > 0 && r.right > root.clientWidth + 0.5) out.push(name + ": right edge at " + Math.round(r.right) + " px");
		const ov = getComputedStyle(el).overflowX;
		if ((ov === "hidden" || ov === "clip" || ov === "auto" || ov === "scroll") && el.scrollWidth > el.clientWidth + 1) out.push(name + ": content " + el.scrollWidth + " px in " + el.clientWidth);
	}
	return out;
})()`

func shot(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
}
