package publish

import (
	"fmt"
	"strings"
	"testing"
)

// TestCleanedMemo: the memo gives what prepare makes of the HTML without
// it, for each base apart, and holds at most cleanedMax bytes however many
// distinct items pass, keeping what the last renders used.
func TestCleanedMemo(t *testing.T) {
	m := newCleanedMemo()
	frag := `<p>Read <a href="/story/1">more</a><img src="https://pixel.example/t.gif" width="1" height="1"></p>` + "\x01"
	for _, base := range []string{"https://a.example/x/", "https://b.example/"} {
		want := cleanItemHTML(frag, base)
		for range 2 { // the second from the memo
			if got := m.clean(frag, base); got != want {
				t.Fatalf("base %s: %q, want %q", base, got, want)
			}
		}
	}
	if got := m.clean(frag, "https://a.example/x/"); !strings.Contains(got, `href="https://a.example/story/1"`) || strings.Contains(got, "pixel.example") || strings.Contains(got, "\x01") {
		t.Errorf("cleaned: %q", got)
	}

	body := strings.Repeat("<p>a paragraph of an item</p>", 100) // ~3 KB
	for i := range 5000 {                                        // ~30 MB of items
		m.clean(fmt.Sprintf("%s<p>%d</p>", body, i), "https://a.example/")
		m.clean(frag, "https://a.example/x/") // used by every render
	}
	held := 0
	for _, gen := range []map[cleanedKey]string{m.cur, m.prev} {
		for k, v := range gen {
			held += len(k.fragment) + len(k.base) + len(v)
		}
	}
	if held > cleanedMax {
		t.Errorf("the memo holds %d bytes, want at most %d", held, cleanedMax)
	}
	if _, ok := m.cur[cleanedKey{frag, "https://a.example/x/"}]; !ok {
		t.Error("the fragment every render used was dropped")
	}
	huge := strings.Repeat("<p>x</p>", cleanedMax/4/8+1)
	m.clean(huge, "")
	if _, ok := m.cur[cleanedKey{huge, ""}]; ok {
		t.Error("an item of a quarter of the bound was kept")
	}
}
