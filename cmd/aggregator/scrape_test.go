package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kpolicy/aggregator/internal/app/apptest"
)

// listingPath is where the listing origin serves a think tank's
// "Analysis" listing (the pages of internal/scrape/testdata, made like
// CSIS's), with an ETag it honours.
const listingPath = "/programs/korea-chair/analysis"

func newListingOrigin(t *testing.T) (*apptest.Page, string) {
	t.Helper()
	p := apptest.NewPage(listingPath, "text/html; charset=utf-8", scrapePage(t, "csis-korea-chair-analysis.html"))
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return p, srv.URL
}

func scrapePage(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "internal", "scrape", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// scrapeConfig writes a feeds.yaml with the listing as a scraped source.
func scrapeConfig(t *testing.T, originURL string) (cfgPath, dbPath string) {
	t.Helper()
	dbPath = filepath.Join(t.TempDir(), "aggregator.db")
	cfg := fmt.Sprintf(`storage: { path: %q }
fetch: { timeout: 5s, allow_private_networks: true, host_gap: 0s, contact: "ops@kpolicy.example" }
sources:
  - id: csis-korea-chair
    url: %q
    scrape:
      item: "div.views-row"
      title: "h3 a"
      link: "h3 a@href"
      date: "time@datetime"
      summary: ".teaser__summary"
      author: ".contributors a"
channels:
  - { id: korea, title: Korea, sources: [csis-korea-chair] }
`, dbPath, originURL+listingPath)
	cfgPath = filepath.Join(t.TempDir(), "feeds.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return cfgPath, dbPath
}

func TestPreviewSource(t *testing.T) {
	o, originURL := newListingOrigin(t)
	cfg, dbPath := scrapeConfig(t, originURL)
	preview := func(args ...string) (string, error) {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), append([]string{"preview-source"}, args...), noenv, &stdout, &stderr)
		return stdout.String(), err
	}

	out, err := preview("csis-korea-chair", "-config", cfg)
	if err != nil {
		t.Fatalf("err=%v\n%s", err, out)
	}
	for _, want := range []string{
		"fetched " + originURL + listingPath + ": 200, 6,821 bytes, text/html; charset=utf-8\n",
		`page "Analysis | Korea Chair | CSIS" (html, en): 4 items`,
		"\n1. North Korea’s New Solid-Fuel Missile: What It Means for Deterrence\n" +
			"   link:    " + originURL + "/analysis/north-koreas-new-solid-fuel-missile-what-it-means\n" +
			"   date:    2024-03-15 12:00 UTC\n" +
			"   author:  Victor D. Cha, Andy Lim\n" +
			"   summary: Pyongyang’s test of a solid-fuel intermediate-range missile shortens warning times across the region. Read the findings.\n",
		"\n4. Sanctions Enforcement after the Panel of Experts\n",
		"\nproblems: none\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(dbPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("preview-source touched the database: %v", err)
	}

	o.Serve([]byte(`<html><body><div class="views-row"><h3><a href="/a">A</a></h3></div><div class="views-row"><h3>no link</h3></div>`))
	out, err = preview("-config", cfg, "csis-korea-chair")
	if err != nil || !strings.Contains(out, "\n1. A\n   link:    "+originURL+"/a\n   date:    no date: first-seen time\n") ||
		!strings.Contains(out, "problems:\n  1 of 2 items skipped: title selector \"h3 a\" found no text in 1\n  date selector \"time@datetime\" found nothing in 1 of 1 items: dated by first-seen time\n") {
		t.Errorf("err=%v\n%s", err, out)
	}

	o.Serve(scrapePage(t, "csis-korea-chair-analysis-redesign.html"))
	out, err = preview("csis-korea-chair", "-config", cfg)
	if !errors.Is(err, errReported) || !strings.Contains(out, "problems:\n  scrape csis-korea-chair: item selector \"div.views-row\" matched nothing on "+originURL+listingPath+"\n") {
		t.Errorf("redesigned page: err=%v\n%s", err, out)
	}

	if _, err := preview("-config", cfg); exitCode(err) != 2 {
		t.Errorf("no SOURCE: err=%v, want exit status 2", err)
	}
	if _, err := preview("nope", "-config", cfg); exitCode(err) != 2 || !strings.Contains(err.Error(), "(sources: csis-korea-chair)") {
		t.Errorf("unknown SOURCE: err=%v", err)
	}
}
