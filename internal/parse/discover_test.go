package parse

import (
	"errors"
	"reflect"
	"testing"

	"golang.org/x/text/encoding/korean"
)

// TestDiscoverRanksAnnouncedFeeds reads pages made like real ones (the heads
// of WordPress, Blogger, Tistory, Naver blog and a Korean newspaper's CMS,
// one in EUC-KR) and checks the order in which their feeds are offered: the
// first is what the poller follows.
func TestDiscoverRanksAnnouncedFeeds(t *testing.T) {
	const wpHead = `<!DOCTYPE html><html lang="en-US"><head><meta charset="UTF-8">
<title>38 North: Informed Analysis of North Korea</title>
<link rel='dns-prefetch' href='//fonts.googleapis.com' />
<link rel="alternate" type="application/rss+xml" title="38 North &raquo; Feed" href="https://www.38north.org/feed/" />
<link rel="alternate" type="application/rss+xml" title="38 North &raquo; Comments Feed" href="https://www.38north.org/comments/feed/" />
<link rel="https://api.w.org/" href="https://www.38north.org/wp-json/" />
<link rel="alternate" title="JSON" type="application/json" href="https://www.38north.org/wp-json/wp/v2/pages/2" />
<link rel="alternate" title="oEmbed (JSON)" type="application/json+oembed" href="https://www.38north.org/wp-json/oembed/1.0/embed?url=https%3A%2F%2Fwww.38north.org%2F" />
<link rel="alternate" title="oEmbed (XML)" type="text/xml+oembed" href="https://www.38north.org/wp-json/oembed/1.0/embed?url=https%3A%2F%2Fwww.38north.org%2F&#038;format=xml" />
`
	tests := []struct {
		name        string
		page        string // the page's URL
		contentType string
		body        []byte
		want        []string
	}{
		{"WordPress home page: the feed before the comments feed, no REST or oEmbed alternates",
			"https://www.38north.org/", "text/html; charset=UTF-8",
			[]byte(wpHead + `</head><body></body></html>`),
			[]string{"https://www.38north.org/feed/", "https://www.38north.org/comments/feed/"}},
		{"WordPress post page: the site's feed before both comments feeds",
			"https://www.38north.org/2024/05/a-post/", "text/html; charset=UTF-8",
			[]byte(wpHead + `<link rel="alternate" type="application/rss+xml" title="38 North &raquo; A post Comments Feed" href="https://www.38north.org/2024/05/a-post/feed/" />
</head><body></body></html>`),
			[]string{"https://www.38north.org/feed/", "https://www.38north.org/comments/feed/", "https://www.38north.org/2024/05/a-post/feed/"}},
		{"comments feed announced first",
			"https://blog.example.org/", "text/html",
			[]byte(`<html><head><link rel="alternate" type="application/atom+xml" title="Recent comments" href="/comments.atom">
<link rel="alternate" type="application/atom+xml" title="Posts" href="/posts.atom"></head><body></body></html>`),
			[]string{"https://blog.example.org/posts.atom", "https://blog.example.org/comments.atom"}},
		{"Blogger: Atom then RSS, in page order",
			"https://koreaeconomics.blogspot.com/", "text/html; charset=UTF-8",
			[]byte(`<!DOCTYPE html><html dir='ltr' xmlns='http://www.w3.org/1999/xhtml'><head>
<link rel="alternate" type="application/atom+xml" title="Korea Economics - Atom" href="https://koreaeconomics.blogspot.com/feeds/posts/default" />
<link rel="alternate" type="application/rss+xml" title="Korea Economics - RSS" href="https://koreaeconomics.blogspot.com/feeds/posts/default?alt=rss" />
<link rel="service.post" type="application/atom+xml" title="Korea Economics - Atom" href="https://www.blogger.com/feeds/123/posts/default" />
</head><body></body></html>`),
			[]string{"https://koreaeconomics.blogspot.com/feeds/posts/default", "https://koreaeconomics.blogspot.com/feeds/posts/default?alt=rss"}},
		{"another site's feed (FeedBurner) after the site's own",
			"https://www.example.com/news/", "text/html",
			[]byte(`<html><head><link rel="alternate" type="application/rss+xml" title="RSS" href="https://feeds.feedburner.com/ExampleNews">
<link rel="alternate" type="application/rss+xml; charset=UTF-8" title="RSS" href="https://rss.example.com/news.xml"></head><body></body></html>`),
			[]string{"https://rss.example.com/news.xml", "https://feeds.feedburner.com/ExampleNews"}},
		{"only another site's feed: followed all the same",
			"https://www.example.com/", "text/html",
			[]byte(`<html><head><link rel="alternate" type="application/rss+xml" href="https://feeds.feedburner.com/ExampleNews"></head><body></body></html>`),
			[]string{"https://feeds.feedburner.com/ExampleNews"}},
		{"another site's feed before an own comments feed",
			"https://www.example.com/", "text/html",
			[]byte(`<html><head><link rel="alternate" type="application/rss+xml" title="Comments" href="/comments/feed/">
<link rel="alternate" type="application/rss+xml" title="Posts" href="https://feeds.feedburner.com/ExampleNews"></head><body></body></html>`),
			[]string{"https://feeds.feedburner.com/ExampleNews", "https://www.example.com/comments/feed/"}},
		{"Tistory blog in Korean",
			"https://nkpolicy.tistory.com/", "text/html;charset=UTF-8",
			[]byte(`<!doctype html><html lang="ko"><head><meta charset="utf-8"><title>북한 정책 연구</title>
<link rel="alternate" type="application/rss+xml" title="북한 정책 연구" href="https://nkpolicy.tistory.com/rss" />
<link rel="alternate" type="application/json+oembed" href="https://nkpolicy.tistory.com/oembed?format=json" title="북한 정책 연구"/>
</head><body></body></html>`),
			[]string{"https://nkpolicy.tistory.com/rss"}},
		{"Naver blog: the feed on rss.blog.naver.com is the site's own",
			"https://blog.naver.com/policyblog", "text/html;charset=UTF-8",
			[]byte(`<html><head><link rel="alternate" type="application/rss+xml" title="RSS 2.0" href="https://rss.blog.naver.com/policyblog.xml"></head><body></body></html>`),
			[]string{"https://rss.blog.naver.com/policyblog.xml"}},
		{"Korean newspaper in EUC-KR (meta charset): 댓글 RSS after the articles",
			"http://www.example.co.kr/", "text/html",
			encode(t, korean.EUCKR, `<html><head><meta http-equiv="Content-Type" content="text/html; charset=euc-kr"><title>예시일보</title>
<link rel="alternate" type="application/rss+xml" title="최신 댓글 RSS" href="/rss/reply.xml">
<link rel="alternate" type="application/rss+xml" title="전체기사 RSS" href="/rss/allArticle.xml">
</head><body>본문</body></html>`),
			[]string{"http://www.example.co.kr/rss/allArticle.xml", "http://www.example.co.kr/rss/reply.xml"}},
		{"Korean newspaper in EUC-KR (charset only in HTTP): 덧글 after the articles",
			"http://news.example.co.kr/", "text/html; charset=euc-kr",
			encode(t, korean.EUCKR, `<html><head><title>예시신문</title>
<link rel="alternate" type="application/rss+xml" title="덧글" href="http://rss.example.co.kr/r.xml">
<link rel="alternate" type="application/rss+xml" title="정치" href="http://rss.example.co.kr/politics.xml">
</head><body>본문</body></html>`),
			[]string{"http://rss.example.co.kr/politics.xml", "http://rss.example.co.kr/r.xml"}},
		{"only http(s) feeds are announced",
			"https://example.com/", "text/html",
			[]byte(`<html><head><link rel="alternate" type="application/rss+xml" href="file:///etc/passwd">
<link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">
<link rel="alternate" type="application/rss+xml" href="ftp://example.com/feed.xml">
<link rel="alternate" type="application/rss+xml" href="//cdn.example.com/feed.xml"></head><body></body></html>`),
			[]string{"https://cdn.example.com/feed.xml"}},
		{"a link in the body is not announced",
			"https://example.com/", "text/html",
			[]byte(`<html><head><title>x</title></head><body><link rel="alternate" type="application/rss+xml" href="/body.xml"></body></html>`),
			nil},
	}
	p := New()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := p.Parse(tt.body, tt.contentType, tt.page, "src")
			var nf *NotFeedError
			if !errors.As(err, &nf) {
				t.Fatalf("err=%v, want a NotFeedError", err)
			}
			if !reflect.DeepEqual(nf.FeedLinks, tt.want) {
				t.Errorf("FeedLinks=%q, want %q", nf.FeedLinks, tt.want)
			}
			want := ""
			if len(tt.want) > 0 {
				want = tt.want[0]
			}
			if got := nf.AnnouncedFeed(); got != want {
				t.Errorf("AnnouncedFeed()=%q, want %q", got, want)
			}
		})
	}
}

func TestAnnouncedFeedOnlyForHTMLPages(t *testing.T) {
	for _, e := range []*NotFeedError{
		{Reason: "empty body"},
		{Reason: "JSON that is not JSON Feed"},
		{Reason: reasonHTML},
	} {
		if got := e.AnnouncedFeed(); got != "" {
			t.Errorf("%v: AnnouncedFeed()=%q, want none", e, got)
		}
	}
}

func TestAnnouncedFeedsAreBounded(t *testing.T) {
	body := []byte("<html><head>")
	for i := range 1000 {
		body = append(body, `<link rel="alternate" type="application/rss+xml" href="/f`...)
		body = append(body, byte('0'+i%10), byte('0'+i/10%10), byte('0'+i/100))
		body = append(body, `.xml">`...)
	}
	body = append(body, "</head></html>"...)
	_, err := New().Parse(body, "text/html", "https://example.com/", "src")
	var nf *NotFeedError
	if !errors.As(err, &nf) {
		t.Fatalf("err=%v", err)
	}
	if got, want := len(nf.FeedLinks), maxFeedLinks; got != want {
		t.Errorf("%d feed links kept, want %d", got, want)
	}
}
