package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kpolicy/aggregator/internal/feed"
)

func corpus(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("AGGREGATOR_CORPUS")
	if dir == "" {
		t.Skip("AGGREGATOR_CORPUS is not set; skipping the corpus import tests")
	}
	return dir
}

// roundTrip checks that printed entries are valid feeds.yaml.
func roundTrip(t *testing.T, im Import) Config {
	t.Helper()
	y := "sources:\n" + FormatSources(im.Sources)
	c, err := Parse(strings.NewReader(y), "imported.yaml")
	if err != nil {
		t.Fatalf("imported entries do not parse: %v\n%s", err, y)
	}
	return c
}

func TestImportCorpusOPML(t *testing.T) {
	dir := filepath.Join(corpus(t), "opml")
	for _, tc := range []struct {
		file     string
		n        int
		someID   string
		someTags string
	}{
		{"plenaryapp/South Korea.opml", 6, "the-korea-herald", "south-korea"},
		{"plenaryapp/Japan.opml", 8, "asahi", "japan"},
		{"rsparser/Subs.opml", 0, "daring-fireball", ""},
		{"rsparser/SubsNoTitleAttributes.opml", 0, "daring-fireball", ""},
	} {
		t.Run(tc.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join(dir, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			im, err := ImportOPML(f, tc.file, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.n > 0 && len(im.Sources) != tc.n {
				t.Errorf("sources=%d, want %d", len(im.Sources), tc.n)
			}
			if len(im.Sources) < 5 {
				t.Fatalf("only %d sources", len(im.Sources))
			}
			c := roundTrip(t, im)
			s, ok := c.Source(tc.someID)
			if !ok {
				var ids []string
				for _, s := range im.Sources {
					ids = append(ids, s.ID)
				}
				t.Fatalf("no source %q among %v", tc.someID, ids)
			}
			if tc.someTags != "" && strings.Join(s.Tags, ",") != tc.someTags {
				t.Errorf("%s tags=%v, want %s", s.ID, s.Tags, tc.someTags)
			}
		})
	}
}

func TestImportMalformedOPML(t *testing.T) {
	name := "Hong Kong SAR China.opml"
	f, err := os.Open(filepath.Join(corpus(t), "opml", "plenaryapp", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = ImportOPML(f, name, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "import Hong Kong SAR China.opml:9: not well-formed XML: ") {
		t.Errorf("err=%v", err)
	}
}

func TestImportCorpusCSV(t *testing.T) {
	dir := filepath.Join(corpus(t), "opml", "knews-rss")
	f, err := os.Open(filepath.Join(dir, "feed_specs.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	existing := []feed.Source{{ID: "khan", URL: "http://khan.co.kr/rss/rssdata/total_news.xml/"}}
	im, err := ImportCSV(f, "feed_specs.csv", existing)
	if err != nil {
		t.Fatal(err)
	}
	c := roundTrip(t, im)
	if len(c.Sources) < 100 {
		t.Errorf("imported %d feeds", len(c.Sources))
	}
	s, ok := c.Source("khan-politics")
	if !ok || s.Title != "경향신문 정치" || s.URL != "https://www.khan.co.kr/rss/rssdata/politic_news.xml" || strings.Join(s.Tags, ",") != "politics" {
		t.Errorf("khan-politics=%+v, %v", s, ok)
	}
	if len(im.Notes) == 0 || !strings.Contains(im.Notes[0], "feed_specs.csv:2: https://www.khan.co.kr/rss/rssdata/total_news.xml is already existing source khan; skipped") {
		t.Errorf("notes=%q", im.Notes)
	}

	p, err := os.Open(filepath.Join(dir, "publishers.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := ImportCSV(p, "publishers.csv", nil); err == nil || !strings.Contains(err.Error(), "lists publishers, not their feeds") {
		t.Errorf("publishers.csv: %v", err)
	}
}

func TestImportOPMLTagsAndDuplicates(t *testing.T) {
	const opml = `<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0"><head><title>KPI sources</title></head><body>
  <outline text="Think tanks">
    <outline type="rss" text="38 North" xmlUrl="https://www.38north.org/feed/" category="/north-korea,/analysis"/>
    <outline type="rss" text="Séoul Café" xmlUrl="https://seoulcafe.example/rss"/>
  </outline>
  <outline text="연합뉴스" xmlUrl="https://www.yna.co.kr/rss/news.xml"/>
  <outline text="연합뉴스 북한" xmlUrl="https://www.yna.co.kr/rss/northkorea.xml"/>
  <outline text="38 North again" xmlUrl="http://38north.org/feed"/>
</body></opml>`
	im, err := ImportOPML(strings.NewReader(opml), "kpi.opml", []feed.Source{{ID: "kei", URL: "https://keia.org/feed/"}})
	if err != nil {
		t.Fatal(err)
	}
	got := FormatSources(im.Sources)
	want := `  - id: 38-north
    url: "https://www.38north.org/feed/"
    title: "38 North"
    tags: [think-tanks, north-korea, analysis]
  - id: seoul-cafe
    url: "https://seoulcafe.example/rss"
    title: "Séoul Café"
    tags: [think-tanks]
  - id: yna
    url: "https://www.yna.co.kr/rss/news.xml"
    title: "연합뉴스"
  - id: yna-northkorea
    url: "https://www.yna.co.kr/rss/northkorea.xml"
    title: "연합뉴스 북한"
`
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if len(im.Notes) != 1 || !strings.Contains(im.Notes[0], "kpi.opml:9: http://38north.org/feed is already imported as 38-north; skipped") {
		t.Errorf("notes=%q", im.Notes)
	}
}

// FuzzImportOPML: any input gives sources or an error, never a panic, and
// whatever it gives prints as valid feeds.yaml.
func FuzzImportOPML(f *testing.F) {
	f.Add(`<opml version="2.0"><body><outline text="Think tanks"><outline text="38 North" xmlUrl="https://www.38north.org/feed/" category="/nk"/></outline></body></opml>`)
	f.Add(`<opml><body><outline text="연합뉴스" xmlUrl="http://yna.co.kr/rss"/><outline text="x" xmlUrl="javascript:alert(1)"/></body></opml>`)
	f.Add(`<?xml version="1.0" encoding="EUC-KR"?><opml><body><outline text="a &, b" xmlUrl="https://a.example/"/></body></opml>`)
	f.Fuzz(func(t *testing.T, doc string) {
		im, err := ImportOPML(strings.NewReader(doc), "fuzz.opml", []feed.Source{{ID: "kei", URL: "https://keia.org/feed/"}})
		if err != nil {
			return
		}
		y := "sources:\n" + FormatSources(im.Sources)
		if _, err := Parse(strings.NewReader(y), "fuzz.yaml"); err != nil && len(im.Sources) <= 100 {
			t.Fatalf("imported entries do not parse: %v\n%s", err, y)
		}
	})
}

// deepOPML is an OPML list of n outlines nested one in the other, each a
// feed of its own.
func deepOPML(n int) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0"?><opml version="2.0"><head/><body>`)
	for i := range n {
		fmt.Fprintf(&b, `<outline text="Folder %d" xmlUrl="https://h%d.example/feed">`, i, i)
	}
	b.WriteString(strings.Repeat(`</outline>`, n))
	b.WriteString(`</body></opml>`)
	return b.String()
}

// TestImportOPMLDeepNesting: 10,000 nested outlines import in time linear
// in the nesting (each outline tagged once; a feed takes the tags of the
// outermost maxFolderTags folders, with a note), where every feed used to
// take a tag for each of its ancestors: 50 million tags, minutes.
func TestImportOPMLDeepNesting(t *testing.T) {
	im, err := ImportOPML(strings.NewReader(deepOPML(10_000)), "deep.opml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(im.Sources), 10_000; got != want {
		t.Fatalf("sources=%d, want %d", got, want)
	}
	tags := 0
	for _, s := range im.Sources {
		tags += len(s.Tags)
	}
	if got, want := im.Sources[9_999].Tags, "folder-0,folder-1,folder-2,folder-3,folder-4,folder-5,folder-6,folder-7"; strings.Join(got, ",") != want {
		t.Errorf("deepest feed has %d tags (%.100q…), want %s", len(got), got, want)
	}
	if got, want := strings.Join(im.Sources[2].Tags, ","), "folder-0,folder-1"; got != want {
		t.Errorf("third feed's tags=%s, want %s", got, want)
	}
	if tags > maxFolderTags*len(im.Sources) {
		t.Errorf("%d tags for %d feeds", tags, len(im.Sources))
	}
	if len(im.Notes) != 1 || !strings.Contains(im.Notes[0], "deep.opml:1: outlines nest more than 8 folders deep") {
		t.Errorf("notes=%q", im.Notes)
	}

	// The work grows with the nesting, not with its square: doubling it
	// doubles the allocations (it quadrupled them).
	allocs := func(n int) float64 {
		doc := deepOPML(n)
		return testing.AllocsPerRun(1, func() { ImportOPML(strings.NewReader(doc), "deep.opml", nil) })
	}
	if a, b := allocs(1_000), allocs(2_000); b > 2.5*a {
		t.Errorf("allocations: %.0f at 1,000 deep, %.0f at 2,000: more than linear", a, b)
	}
}

// BenchmarkImportOPMLDeep imports a list nested 10,000 deep.
func BenchmarkImportOPMLDeep(b *testing.B) {
	doc := deepOPML(10_000)
	for b.Loop() {
		if _, err := ImportOPML(strings.NewReader(doc), "deep.opml", nil); err != nil {
			b.Fatal(err)
		}
	}
}
