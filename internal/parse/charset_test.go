package parse

import (
	"bytes"
	"strings"
	"testing"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/unicode"
)

// koreanFeed is a small RSS document with real Korean text; decl is its
// XML declaration, so each test can label it as it needs.
func koreanFeed(decl string) string {
	return decl + `<rss version="2.0"><channel><title>한겨레 뉴스</title><link>https://www.hani.co.kr/</link>
<item><title>대통령, 국회에 예산안 제출</title><link>https://www.hani.co.kr/arti/1.html</link>
<description>정부가 내년도 예산안을 국회에 제출했다.</description><pubDate>Mon, 01 Aug 2022 09:00:00 +0900</pubDate></item>
<item><title>서울 날씨 맑음</title><link>https://www.hani.co.kr/arti/2.html</link></item>
</channel></rss>`
}

func encode(t *testing.T, enc encoding.Encoding, s string) []byte {
	t.Helper()
	b, err := enc.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseCharsets(t *testing.T) {
	const xmlDecl = `<?xml version="1.0"?>`
	tests := []struct {
		name        string
		body        []byte
		contentType string
	}{
		{"EUC-KR with charset only in HTTP", encode(t, korean.EUCKR, koreanFeed(xmlDecl)), "text/xml; charset=EUC-KR"},
		{"ks_c_5601-1987 in HTTP", encode(t, korean.EUCKR, koreanFeed(xmlDecl)), `application/rss+xml; charset="ks_c_5601-1987"`},
		{"cp949 label in the XML declaration", encode(t, korean.EUCKR, koreanFeed(`<?xml version="1.0" encoding="cp949"?>`)), "text/xml"},
		{"x-windows-949 label in the XML declaration", encode(t, korean.EUCKR, koreanFeed(`<?xml version="1.0" encoding='x-windows-949'?>`)), ""},
		{"mislabelled as UTF-8 but EUC-KR", encode(t, korean.EUCKR, koreanFeed(`<?xml version="1.0" encoding="UTF-8"?>`)), "text/xml; charset=utf-8"},
		{"UTF-16LE with BOM", encode(t, unicode.UTF16(unicode.LittleEndian, unicode.UseBOM), koreanFeed(`<?xml version="1.0" encoding="UTF-16"?>`)), ""},
		{"UTF-16BE with BOM", encode(t, unicode.UTF16(unicode.BigEndian, unicode.UseBOM), koreanFeed(`<?xml version="1.0" encoding="UTF-16"?>`)), ""},
		{"UTF-8 with BOM and a wrong HTTP charset", append([]byte("\xEF\xBB\xBF"), koreanFeed(xmlDecl)...), "text/xml; charset=iso-8859-1"},
		{"UTF-8 and a wrong declaration", []byte(koreanFeed(`<?xml version="1.0" encoding="euc-kr"?>`)), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustParse(t, tt.body, tt.contentType, "https://www.hani.co.kr/rss/")
			if got.Title != "한겨레 뉴스" {
				t.Errorf("feed title=%q", got.Title)
			}
			if len(got.Items) != 2 {
				t.Fatalf("items=%d, want 2", len(got.Items))
			}
			if got, want := got.Items[0].Title, "대통령, 국회에 예산안 제출"; got != want {
				t.Errorf("title=%q, want %q", got, want)
			}
			if got, want := got.Items[0].Summary, "정부가 내년도 예산안을 국회에 제출했다."; got != want {
				t.Errorf("summary=%q, want %q", got, want)
			}
		})
	}
}

func TestParseStrayByte(t *testing.T) {
	// One invalid byte (0xFF) inside an otherwise UTF-8 title: only that
	// character is lost, the feed and the rest of the text survive.
	doc := strings.Replace(koreanFeed(`<?xml version="1.0" encoding="UTF-8"?>`), "예산안 제출", "예산안\xFF 제출", 1)
	got := mustParse(t, []byte(doc), "text/xml; charset=utf-8", "")
	if len(got.Items) != 2 {
		t.Fatalf("items=%d, want 2", len(got.Items))
	}
	if got, want := got.Items[0].Title, "대통령, 국회에 예산안\uFFFD 제출"; got != want {
		t.Errorf("title=%q, want %q", got, want)
	}
}

func TestParseControlCharacters(t *testing.T) {
	doc := `<rss version="2.0"><channel><item><title>a` + "\x00\x01\x08\x0B\x0C\x1F\uFFFE" + `b` + "\t" + `c</title><link>https://e.com/</link></item></channel></rss>`
	got := mustParse(t, []byte(doc), "", "")
	if len(got.Items) != 1 || got.Items[0].Title != "ab c" {
		t.Fatalf("items=%+v", got.Items)
	}
}

func TestTranscode(t *testing.T) {
	tests := []struct {
		name        string
		body        []byte
		contentType string
		want        string
		enc         string
	}{
		{"ASCII stays", []byte(`<a/>`), "", `<a/>`, "utf-8"},
		{"declaration rewritten", encode(t, korean.EUCKR, `<?xml version="1.0" encoding="euc-kr"?><a>한</a>`), "",
			`<?xml version="1.0" encoding="UTF-8"?><a>한</a>`, "cp949"},
		{"HTTP charset beats the declaration", encode(t, korean.EUCKR, `<?xml version="1.0" encoding="iso-8859-1"?><a>한</a>`), "text/xml;charset=cp949",
			`<?xml version="1.0" encoding="UTF-8"?><a>한</a>`, "cp949"},
		{"Latin-1", []byte("<?xml version='1.0' encoding='ISO-8859-1'?><a>caf\xe9</a>"), "",
			`<?xml version='1.0' encoding='UTF-8'?><a>café</a>`, "windows-1252"},
		{"gb2312 read as GBK", []byte("<a>\xd6\xd0\xce\xc4</a>"), "text/xml; charset=gb2312", "<a>中文</a>", "gbk"},
		{"Shift_JIS alias", []byte("<a>\x93\xfa\x96\x7b</a>"), "text/xml; charset=x-sjis", "<a>日本</a>", "shift_jis"},
		{"UTF-16LE without BOM", encode(t, unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM), `<?xml version="1.0" encoding="utf-16"?><a>한</a>`), "",
			`<?xml version="1.0" encoding="UTF-8"?><a>한</a>`, "utf-16le"},
		{"unknown label read as UTF-8", []byte("<a>\xff</a>"), "text/xml; charset=no-such-thing", "<a>\uFFFD</a>", "utf-8"},
		{"ASCII with one bad byte is not guessed as CP949", []byte("<a>caf\x9Ca</a>"), "", "<a>caf\uFFFDa</a>", "utf-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, enc := transcode(tt.body, tt.contentType)
			if string(got) != tt.want || enc != tt.enc {
				t.Errorf("transcode = %q, %q; want %q, %q", got, enc, tt.want, tt.enc)
			}
		})
	}
}

func TestCleanXMLCharsKeepsCleanInput(t *testing.T) {
	in := []byte("tab\tLF\nCR\r한국 \u007f\u0085")
	if got := cleanXMLChars(in); !bytes.Equal(got, in) || &got[0] != &in[0] {
		t.Errorf("cleanXMLChars copied or changed clean input: %q", got)
	}
}

func TestTranscodeBOMWithInvalidBytes(t *testing.T) {
	got, enc := transcode([]byte("\xEF\xBB\xBF<a>Espa\xf1a</a>"), "")
	if string(got) != "<a>Espa\uFFFDa</a>" || enc != "utf-8" {
		t.Errorf("transcode = %q, %q", got, enc)
	}
}

// TestDeclaredEncodingInHTML: an HTML page names its charset in a <meta>,
// in either form, within the first 1024 bytes.
func TestDeclaredEncodingInHTML(t *testing.T) {
	tests := []struct{ head, want string }{
		{`<html><head><meta charset="euc-kr">`, "euc-kr"},
		{`<html><head><META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=EUC-KR">`, "EUC-KR"},
		{`<meta content='text/html;charset=ks_c_5601-1987' http-equiv='content-type'>`, "ks_c_5601-1987"},
		{`<?xml version="1.0" encoding="windows-1252"?><meta charset="euc-kr">`, "windows-1252"},
		{strings.Repeat(" ", 1024) + `<meta charset="euc-kr">`, ""},
		{`<html><head><title>no charset</title>`, ""},
	}
	for _, tt := range tests {
		if got := declaredEncoding([]byte(tt.head)); got != tt.want {
			t.Errorf("declaredEncoding(%.60q)=%q, want %q", tt.head, got, tt.want)
		}
	}
}
