package parse

import (
	"testing"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
)

// langFeed is an RSS document carrying real text in one language: the
// feed's title, and one item's title and description.
func langFeed(decl, feedTitle, itemTitle, desc string) string {
	return decl + `<rss version="2.0"><channel><title>` + feedTitle + `</title><link>https://news.example/</link>
<item><title>` + itemTitle + `</title><link>https://news.example/1</link><description>` + desc + `</description></item>
<item><title>second</title><link>https://news.example/2</link></item>
</channel></rss>`
}

// TestParseLegacyEncodings parses whole feeds in the legacy encodings of
// our region and of the Latin world, labelled in the ways origins label
// them: in the HTTP Content-Type only, in the XML declaration only, or with
// an alias.
func TestParseLegacyEncodings(t *testing.T) {
	tests := []struct {
		name        string
		enc         encoding.Encoding
		decl        string
		contentType string
		feedTitle   string
		itemTitle   string
		desc        string
	}{
		{"GB2312 in the declaration", simplifiedchinese.GBK, `<?xml version="1.0" encoding="gb2312"?>`, "text/xml",
			"新华网 国际新闻", "朝鲜半岛局势引发关注", "中国外交部发言人就朝鲜半岛问题答记者问。"},
		{"GBK in HTTP only", simplifiedchinese.GBK, `<?xml version="1.0"?>`, "application/rss+xml; charset=GBK",
			"新华网 国际新闻", "朝鲜半岛局势引发关注", "中国外交部发言人就朝鲜半岛问题答记者问。"},
		{"Shift_JIS in HTTP only", japanese.ShiftJIS, `<?xml version="1.0"?>`, "text/xml; charset=Shift_JIS",
			"朝日新聞 国際", "北朝鮮がミサイルを発射", "防衛省によると、日本海に向けて発射された。"},
		{"Shift_JIS alias in the declaration", japanese.ShiftJIS, `<?xml version="1.0" encoding="x-sjis"?>`, "",
			"朝日新聞 国際", "北朝鮮がミサイルを発射", "防衛省によると、日本海に向けて発射された。"},
		{"EUC-JP in the declaration", japanese.EUCJP, `<?xml version="1.0" encoding="EUC-JP"?>`, "text/xml",
			"読売新聞", "日韓首脳会談", "両首脳は協力の強化で一致した。"},
		{"windows-1252 in the declaration", charmap.Windows1252, `<?xml version="1.0" encoding="windows-1252"?>`, "",
			"Le Monde – International", "Séoul et Pyongyang: «dialogue» relancé", "Les négociations reprennent à Panmunjom… enfin."},
		{"ISO-8859-1 label read as windows-1252", charmap.Windows1252, `<?xml version="1.0" encoding="ISO-8859-1"?>`, "text/xml",
			"Die Zeit – Außenpolitik", "Südkorea wählt – „eine Zäsur“", "Präsidentschaftswahl in Südkorea: Überraschung."},
		{"CP949 in HTTP only", korean.EUCKR, `<?xml version="1.0"?>`, "text/xml; charset=ms949",
			"연합뉴스 북한", "남북 정상회담 개최 합의", "양측은 판문점에서 만나기로 했다."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := encode(t, tt.enc, langFeed(tt.decl, tt.feedTitle, tt.itemTitle, tt.desc))
			got := mustParse(t, body, tt.contentType, "https://news.example/rss")
			if got.Title != tt.feedTitle {
				t.Errorf("feed title=%q, want %q", got.Title, tt.feedTitle)
			}
			if len(got.Items) != 2 {
				t.Fatalf("items=%d, want 2", len(got.Items))
			}
			if got.Items[0].Title != tt.itemTitle {
				t.Errorf("item title=%q, want %q", got.Items[0].Title, tt.itemTitle)
			}
			if got.Items[0].Summary != tt.desc {
				t.Errorf("summary=%q, want %q", got.Items[0].Summary, tt.desc)
			}
		})
	}
}

func TestContentTypeCharsetLenient(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"\x9600ChArset=", ""}, // FuzzParse: ToLower used to shift the index past the end
		{"\x96 text/xml; CHARSET=\"euc-kr", "euc-kr"},
		{`text/xml; charset="euc-kr`, "euc-kr"},
		{"text/xml", ""},
	} {
		if got := contentTypeCharset(tc.in); got != tc.want {
			t.Errorf("contentTypeCharset(%q)=%q, want %q", tc.in, got, tc.want)
		}
	}
}
