package parse

import (
	"strings"
	"testing"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/encoding/unicode/utf32"
)

// TestWideTextWithoutBOM: UTF-16 and UTF-32 without a byte order mark are
// recognised after leading white space too (they were read as UTF-8 with
// the NULs dropped, every Hangul syllable garbled), and JSON Feed as well as
// XML; text that has the NULs of such an encoding but no '<' or '{' to
// place them is refused rather than garbled.
func TestWideTextWithoutBOM(t *testing.T) {
	encs := []struct {
		name string
		enc  encoding.Encoding
	}{
		{"utf-16le", unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM)},
		{"utf-16be", unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM)},
		{"utf-32le", utf32.UTF32(utf32.LittleEndian, utf32.IgnoreBOM)},
		{"utf-32be", utf32.UTF32(utf32.BigEndian, utf32.IgnoreBOM)},
	}
	json := `{"version":"https://jsonfeed.org/version/1.1","title":"한겨레 뉴스","items":[{"id":"1","title":"대통령, 국회에 예산안 제출"}]}`
	for _, e := range encs {
		for _, lead := range []string{"", "\n", " \r\n\t  \n"} {
			for _, doc := range []struct{ kind, text string }{
				{"rss", koreanFeed(`<?xml version="1.0" encoding="UTF-16"?>`)},
				{"rss", koreanFeed("")},
				{"json", json},
			} {
				name := e.name + "/" + doc.kind + "/" + strings.NewReplacer("\n", `\n`, "\r", `\r`, "\t", `\t`).Replace(lead)
				t.Run(name, func(t *testing.T) {
					body := encode(t, e.enc, lead+doc.text)
					if _, enc := transcode(body, ""); enc != e.name {
						t.Errorf("read as %s, want %s", enc, e.name)
					}
					got := mustParse(t, body, "", "https://www.hani.co.kr/rss/")
					if len(got.Items) == 0 {
						t.Fatalf("got %s %q without items", got.Type, got.Title)
					}
					if got.Title != "한겨레 뉴스" || got.Type != doc.kind || got.Items[0].Title != "대통령, 국회에 예산안 제출" {
						t.Errorf("got %s %q, first item %q; want the Korean feed", got.Type, got.Title, got.Items[0].Title)
					}
				})
			}
		}
	}

	t.Run("refused when nothing tells the byte order", func(t *testing.T) {
		body := encode(t, encs[0].enc, "한겨레 "+koreanFeed("")) // text before the first '<'
		_, err := New().Parse(body, "", "https://www.hani.co.kr/rss/", "src")
		if err == nil || !strings.Contains(err.Error(), "looks like UTF-16 or UTF-32") {
			t.Errorf("err=%v, want a refusal naming UTF-16 or UTF-32", err)
		}
	})
	t.Run("ASCII-compatible text is not taken for it", func(t *testing.T) {
		for _, body := range []string{"<a/>", "\n <rss>", "{}", "  {\"a\":1}", "<\x00"} {
			if enc, name := sniffWide([]byte(body)); enc != nil {
				t.Errorf("%q read as %s", body, name)
			}
		}
	})
}
