package parse

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCaps(t *testing.T) {
	var cats strings.Builder
	for i := range 3 * MaxCategories {
		fmt.Fprintf(&cats, "<category>c%d</category>", i)
	}
	title := strings.Repeat("한", MaxTitleBytes) // 3 bytes each
	body := fmt.Sprintf(`<rss version="2.0"><channel><title>t</title><item><guid>a</guid><title>%s</title>%s<category>%s</category><link>http://x.example/%s</link></item></channel></rss>`,
		title, cats.String(), strings.Repeat("k", 5000), strings.Repeat("p", 5000))
	parsed, err := New().Parse([]byte(body), "application/rss+xml", "http://x.example/feed", "s")
	if err != nil {
		t.Fatal(err)
	}
	it := parsed.Items[0]
	if len(it.Title) > MaxTitleBytes || !utf8.ValidString(it.Title) || !strings.HasSuffix(it.Title, "…") {
		t.Errorf("title of %d bytes (valid UTF-8 %v), want at most %d ending in …", len(it.Title), utf8.ValidString(it.Title), MaxTitleBytes)
	}
	if got, want := len(it.Categories), MaxCategories; got != want {
		t.Errorf("categories=%d, want %d", got, want)
	}
	if it.Categories[0].Term != "c0" {
		t.Errorf("first category %q, want c0: the first ones are kept", it.Categories[0].Term)
	}
	if it.Link != "" {
		t.Errorf("a link of %d bytes is kept", len(it.Link))
	}

	var items strings.Builder
	for i := range MaxItemsPerFeed + 5 {
		fmt.Fprintf(&items, "<item><guid>%d</guid><title>t%d</title></item>", i, i)
	}
	parsed, err = New().Parse([]byte(`<rss version="2.0"><channel><title>t</title>`+items.String()+`</channel></rss>`), "", "", "s")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(parsed.Items), MaxItemsPerFeed; got != want {
		t.Errorf("items=%d, want %d", got, want)
	}
}
