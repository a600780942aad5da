package parse

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/kpolicy/aggregator/internal/feed"
)

// rssDoc returns an RSS 2.0 document with one <item> per entry of items,
// each given as its inner XML.
func rssDoc(items ...string) []byte {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>통일뉴스</title><link>https://www.tongilnews.com/</link><description>d</description>
`)
	for _, it := range items {
		b.WriteString("<item>" + it + "</item>\n")
	}
	b.WriteString("</channel></rss>")
	return []byte(b.String())
}

func parseAs(t *testing.T, policy string, doc []byte) feed.Parsed {
	t.Helper()
	got, err := New().ParseSource(doc, "application/rss+xml", "https://www.tongilnews.com/rss/allArticle.xml", feed.Source{ID: "tongil", Identity: policy})
	if err != nil {
		t.Fatalf("ParseSource: %v", err)
	}
	return got
}

func itemKeys(items []feed.Item) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.Key)
	}
	return out
}

// A CMS that writes its home page as the guid of every item.
var repeatedGUIDFeed = rssDoc(
	`<title>남북 정상 핫라인 복원</title><link>http://www.tongilnews.com/news/articleView.html?idxno=204226&amp;utm_source=rss</link><guid>https://www.tongilnews.com/</guid><pubDate>Mon, 01 Aug 2022 09:00:00 +0900</pubDate>`,
	`<title>개성공단 재가동 논의</title><link>http://www.tongilnews.com/news/articleView.html?idxno=204227</link><guid>https://www.tongilnews.com/</guid><pubDate>Mon, 01 Aug 2022 10:00:00 +0900</pubDate>`,
	`<title>이산가족 상봉 추진</title><link>http://www.tongilnews.com/news/articleView.html?idxno=204228</link><guid>https://www.tongilnews.com/</guid><pubDate>Mon, 01 Aug 2022 11:00:00 +0900</pubDate>`,
)

func TestRepeatedGUIDFallsBackToLinks(t *testing.T) {
	got := parseAs(t, feed.IdentityAuto, repeatedGUIDFeed)
	want := []string{
		"link:www.tongilnews.com/news/articleView.html?idxno=204226",
		"link:www.tongilnews.com/news/articleView.html?idxno=204227",
		"link:www.tongilnews.com/news/articleView.html?idxno=204228",
	}
	if got := itemKeys(got.Items); !slices.Equal(got, want) {
		t.Errorf("keys = %q\nwant %q", got, want)
	}
	if !strings.Contains(got.Warning, `3 different items the guid "https://www.tongilnews.com/"`) {
		t.Errorf("warning = %q", got.Warning)
	}
	// The upstream id is still what the feed said: it is republished.
	if got.Items[0].ID != "https://www.tongilnews.com/" {
		t.Errorf("ID = %q", got.Items[0].ID)
	}

	t.Run("the guid policy trusts the feed", func(t *testing.T) {
		got := parseAs(t, feed.IdentityGUID, repeatedGUIDFeed)
		if len(got.Items) != 1 || got.Items[0].Key != "id:www.tongilnews.com/" || got.Warning != "" {
			t.Errorf("items = %q, warning %q; want the first item alone, no warning", itemKeys(got.Items), got.Warning)
		}
	})
	t.Run("a URL guid is compared as a link", func(t *testing.T) {
		// Khan lists one article in several sections, its guid the link with
		// the section in a tracking parameter.
		doc := rssDoc(
			`<title>A</title><link>https://www.khan.co.kr/a/1/?utm_content=politic_news</link><guid>https://www.khan.co.kr/a/1/?utm_content=politic_news</guid>`,
			`<title>A</title><link>https://www.khan.co.kr/a/1/?utm_content=total_news</link><guid>http://www.khan.co.kr/a/1/?utm_content=total_news</guid>`,
		)
		got := parseAs(t, feed.IdentityAuto, doc)
		if len(got.Items) != 1 || got.Items[0].Key != "id:www.khan.co.kr/a/1" || got.Warning != "" {
			t.Errorf("items = %q, warning %q; want one item id:www.khan.co.kr/a/1", itemKeys(got.Items), got.Warning)
		}
	})
	t.Run("one story listed twice is not a repeat", func(t *testing.T) {
		doc := rssDoc(
			`<title>A</title><link>https://www.tongilnews.com/a?utm_source=x</link><guid>g1</guid>`,
			`<title>A, edited</title><link>http://www.tongilnews.com/a</link><guid>g1</guid>`,
			`<title>A without link</title><guid>g1</guid>`,
		)
		got := parseAs(t, feed.IdentityAuto, doc)
		if len(got.Items) != 1 || got.Items[0].Key != "id:g1" || got.Warning != "" {
			t.Errorf("items = %q, warning %q; want id:g1 alone", itemKeys(got.Items), got.Warning)
		}
	})
}

func TestIdentityPolicies(t *testing.T) {
	// One story in two polls: the CMS regenerated its GUIDs (a timestamp
	// in each) and the site moved to https in between.
	poll := func(n int, scheme string) []byte {
		return rssDoc(fmt.Sprintf(`<title>북미 대화 재개</title><link>%s://www.tongilnews.com/news/articleView.html?idxno=1</link><guid isPermaLink="false">tongil-1-%d</guid><description>본문</description>`, scheme, n))
	}
	tests := []struct {
		policy string
		same   bool // whether both polls give the item one key
		prefix string
	}{
		{feed.IdentityAuto, false, "id:"}, // the store recognises it by its link (store tests)
		{feed.IdentityGUID, false, "id:"},
		{feed.IdentityLink, true, "link:"},
		{feed.IdentityContent, true, "hash:"},
	}
	for _, tt := range tests {
		t.Run(tt.policy, func(t *testing.T) {
			a, b := parseAs(t, tt.policy, poll(1, "http")).Items[0], parseAs(t, tt.policy, poll(2, "https")).Items[0]
			if (a.Key == b.Key) != tt.same || !strings.HasPrefix(a.Key, tt.prefix) {
				t.Errorf("keys %q and %q; want same=%v with prefix %q", a.Key, b.Key, tt.same, tt.prefix)
			}
		})
	}
}

func TestPublishedLinksAreCanonical(t *testing.T) {
	doc := rssDoc(
		`<title>a</title><link>HTTPS://WWW.Khan.co.kr:443/politics/article/202207310639001/?utm_campaign=rss_btn_click&amp;utm_source=khan_rss#top</link><guid>k1</guid>`,
		`<title>b</title><link>http://news.kmib.co.kr/article/view.asp?sid1=pol&amp;arcid=0924257361&amp;fbclid=IwAR</link><guid>k2</guid>`,
		`<title>c</title><guid isPermaLink="true">https://news.joins.com/article/24207139?cloc=rss-news-politics</guid>`,
	)
	got := parseAs(t, "", doc)
	want := []string{
		"https://www.khan.co.kr/politics/article/202207310639001/",
		"http://news.kmib.co.kr/article/view.asp?arcid=0924257361&sid1=pol", // the feed's http is kept
		"https://news.joins.com/article/24207139",
	}
	var links []string
	for _, it := range got.Items {
		links = append(links, it.Link)
	}
	if !slices.Equal(links, want) {
		t.Errorf("links = %q\nwant %q", links, want)
	}
	if got.Items[2].ID != "https://news.joins.com/article/24207139?cloc=rss-news-politics" {
		t.Errorf("the upstream id must stay verbatim, got %q", got.Items[2].ID)
	}
}
