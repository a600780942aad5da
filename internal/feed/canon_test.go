package feed

import "testing"

func TestCanonicalURL(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"already canonical", "https://example.org/a/b?x=1", "https://example.org/a/b?x=1"},
		{"scheme and host lower-cased, path kept", "HTTPS://News.Example.ORG/Story/A", "https://news.example.org/Story/A"},
		{"default http port", "http://example.org:80/a", "http://example.org/a"},
		{"default https port", "https://example.org:443/a", "https://example.org/a"},
		{"other port kept", "https://example.org:8443/a", "https://example.org:8443/a"},
		{"empty port", "https://example.org:/a", "https://example.org/a"},
		{"empty path", "https://example.org", "https://example.org/"},
		{"fragment dropped", "https://example.org/a#comments", "https://example.org/a"},
		{"hash-bang kept", "https://example.org/#!/story/12", "https://example.org/#!/story/12"},
		{"utm parameters dropped", "https://www.khan.co.kr/politics/article/202207310639001/?utm_campaign=rss_btn_click&utm_source=khan_rss&utm_medium=rss&utm_content=politic_news",
			"https://www.khan.co.kr/politics/article/202207310639001/"},
		{"click ids dropped, story id kept", "https://example.org/a?id=7&fbclid=IwAR0&gclid=x&mc_cid=1&mc_eid=2&mtm_source=nl&MSCLKID=3", "https://example.org/a?id=7"},
		{"JoongAng cloc dropped", "https://news.joins.com/article/24207139?cloc=rss-news-politics", "https://news.joins.com/article/24207139"},
		{"parameters sorted by name, repeats in order", "https://example.org/view.asp?sid1=pol&code=11121100&arcid=0924257361&tag=b&tag=a",
			"https://example.org/view.asp?arcid=0924257361&code=11121100&sid1=pol&tag=b&tag=a"},
		{"empty parameters and lone ? dropped", "https://example.org/a?&&", "https://example.org/a"},
		{"percent escapes upper-cased", "https://example.org/%ea%b0%80?q=%ed%95%9c", "https://example.org/%EA%B0%80?q=%ED%95%9C"},
		{"raw Hangul path escaped", "https://example.org/뉴스", "https://example.org/%EB%89%B4%EC%8A%A4"},
		{"trailing slash and scheme kept", "http://example.org/a/", "http://example.org/a/"},
		{"not http", "mailto:desk@example.org", "mailto:desk@example.org"},
		{"relative", " /a/b ", "/a/b"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CanonicalURL(tt.in); got != tt.want {
				t.Errorf("CanonicalURL(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
			if got := CanonicalURL(CanonicalURL(tt.in)); got != tt.want {
				t.Errorf("CanonicalURL is not idempotent on %q: %q", tt.in, got)
			}
		})
	}
}

func TestLinkKey(t *testing.T) {
	same := [][]string{
		{ // http→https flip, tracking parameters, trailing slash, host case, port, fragment
			"http://www.khan.co.kr/politics/article/202207310639001/?utm_campaign=rss_btn_click&utm_source=khan_rss",
			"https://WWW.khan.co.kr:443/politics/article/202207310639001",
			"https://www.khan.co.kr/politics/article/202207310639001/#comments",
		},
		{"https://example.org", "http://example.org/", "https://example.org/?utm_source=x"},
		{"https://example.org/a?b=2&a=1", "https://example.org/a/?a=1&b=2&fbclid=z"},
	}
	for _, group := range same {
		want := LinkKey(group[0])
		for _, in := range group[1:] {
			if got := LinkKey(in); got != want {
				t.Errorf("LinkKey(%q) = %q, want %q (as for %q)", in, got, want, group[0])
			}
		}
	}
	if got, want := LinkKey("https://example.org/a/b/?x=1"), "example.org/a/b?x=1"; got != want {
		t.Errorf("LinkKey = %q, want %q", got, want)
	}
	different := [][2]string{
		{"https://example.org/a", "https://example.org/A"},
		{"https://example.org/a?id=1", "https://example.org/a?id=2"},
		{"https://example.org/a", "https://example.com/a"},
		{"https://example.org:8080/a", "https://example.org/a"},
	}
	for _, d := range different {
		if LinkKey(d[0]) == LinkKey(d[1]) {
			t.Errorf("LinkKey(%q) = LinkKey(%q) = %q; want them different", d[0], d[1], LinkKey(d[0]))
		}
	}
}

func TestIdentityFor(t *testing.T) {
	const id, link, title, content = "urn:x:1", "http://example.org/a/?utm_source=rss", "T", "C"
	hash := Identity("", "", title, content)
	tests := []struct{ policy, want string }{
		{"", "id:urn:x:1"},
		{IdentityAuto, "id:urn:x:1"},
		{IdentityGUID, "id:urn:x:1"},
		{IdentityLink, "link:example.org/a"},
		{IdentityContent, hash},
	}
	for _, tt := range tests {
		if got := IdentityFor(tt.policy, id, link, title, content); got != tt.want {
			t.Errorf("IdentityFor(%q) = %q, want %q", tt.policy, got, tt.want)
		}
	}
	if got := IdentityFor(IdentityGUID, "", link, title, content); got != hash {
		t.Errorf("guid policy without a GUID = %q, want the content hash (links never identify)", got)
	}
	if got := IdentityFor(IdentityAuto, "", link, title, content); got != "link:example.org/a" {
		t.Errorf("auto without a GUID = %q, want the link key", got)
	}
	for _, p := range IdentityPolicies() {
		if got := LinksIdentify(p); got != (p == IdentityAuto || p == IdentityLink) {
			t.Errorf("LinksIdentify(%q) = %v", p, got)
		}
	}
	for key, want := range map[string]string{"id:x": "id", "link:e.org/": "link", hash: "hash", "id:": "", "other": ""} {
		if got := KeyRule(key); got != want {
			t.Errorf("KeyRule(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestGUIDKey(t *testing.T) {
	for in, want := range map[string]string{
		" urn:uuid:1 ":                "urn:uuid:1",
		"12345":                       "12345",
		"tag:example.org,2025:post-9": "tag:example.org,2025:post-9",
		"https://www.khan.co.kr/a/202207310639001/?utm_campaign=rss_btn_click&utm_content=politic_news": "www.khan.co.kr/a/202207310639001",
		"http://news.joins.com/article/24232833?cloc=rss-news-star":                                     "news.joins.com/article/24232833",
		// The fragment is part of the identifier: scripting.com's posts of one day.
		"http://scripting.com/2017/06/26.html#a080605":   "scripting.com/2017/06/26.html#a080605",
		"https://Scripting.com/2017/06/26.html/#a030658": "scripting.com/2017/06/26.html#a030658",
		"https://example.org/a?utm_source=x#%e2%80%94":   "example.org/a#%E2%80%94",
		"https://example.org/#!/story/12":                "example.org/#!/story/12",
	} {
		if got := GUIDKey(in); got != want {
			t.Errorf("GUIDKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzCanonicalURL(f *testing.F) {
	for _, s := range []string{"https://Example.org:443/a/?utm_source=x&b=2&a=1#f", "http://[::1]:80/", "https://e.org/%ea?q=%zz", "https://e.org/#!/x", "mailto:x", "https://e.org:/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := CanonicalURL(s)
		if again := CanonicalURL(c); again != c {
			t.Errorf("CanonicalURL not idempotent: %q → %q → %q", s, c, again)
		}
		if LinkKey(s) != LinkKey(c) {
			t.Errorf("LinkKey(%q) = %q but LinkKey(canonical %q) = %q", s, LinkKey(s), c, LinkKey(c))
		}
	})
}

func TestStripTracking(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"no query", "https://example.org/a.jpg", "https://example.org/a.jpg"},
		{"nothing to strip, order and escapes kept", "https://img.example/x.jpg?w=100&h=62&crop=1&q=%ea", "https://img.example/x.jpg?w=100&h=62&crop=1&q=%ea"},
		{"utm and click ids", "https://example.org/a?utm_source=rss&id=7&fbclid=IwAR0&gclid=x&mc_cid=1&mc_eid=2&UTM_Medium=m", "https://example.org/a?id=7"},
		{"the whole query", "https://example.org/a?utm_source=rss&utm_medium=feed", "https://example.org/a"},
		{"fragment kept", "https://example.org/a?utm_campaign=c#section-2", "https://example.org/a#section-2"},
		{"question mark in the fragment", "https://example.org/a#x?utm_source=y", "https://example.org/a#x?utm_source=y"},
		{"escaped name", "https://example.org/a?%75tm_source=x&b=1", "https://example.org/a?b=1"},
		{"relative", "/story?id=3&utm_source=nl", "/story?id=3"},
		{"empty parameters go with the tracking", "https://example.org/a?&b=1&&utm_source=x&", "https://example.org/a?b=1"},
		{"http scheme and case kept", "HTTP://Example.ORG/A?fbclid=1", "HTTP://Example.ORG/A"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := StripTracking(tt.in); got != tt.want {
				t.Errorf("StripTracking(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestPermaLink(t *testing.T) {
	for _, tt := range []struct{ name, link, guid, want string }{
		{"the GUID's fragment names the post", "http://scripting.com/2017/06/26.html#a080605", "http://scripting.com/2017/06/26.html#a080605", "http://scripting.com/2017/06/26.html#a080605"},
		{"the same URL, canonical and tracked", "HTTP://scripting.com:80/2017/06/26.html?utm_source=rss#a080605", "https://scripting.com/2017/06/26.html#a080605", "http://scripting.com/2017/06/26.html#a080605"},
		{"a tracking fragment of the link alone", "https://www.macworld.com/article/3238188/x.html#tk.rss_all", "", "https://www.macworld.com/article/3238188/x.html"},
		{"a GUID without the fragment", "https://example.org/a#comments", "https://example.org/a", "https://example.org/a"},
		{"a GUID with another fragment", "https://example.org/a#one", "https://example.org/a#two", "https://example.org/a"},
		{"a GUID that is not a URL", "https://example.org/a#one", "post-1", "https://example.org/a"},
		{"hash-bang kept as ever", "https://example.org/#!/story/12", "", "https://example.org/#!/story/12"},
		{"no fragment", "https://example.org/a", "https://example.org/a", "https://example.org/a"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := PermaLink(tt.link, tt.guid); got != tt.want {
				t.Errorf("PermaLink(%q, %q) = %q, want %q", tt.link, tt.guid, got, tt.want)
			}
		})
	}
}

func TestUpgradedKey(t *testing.T) {
	for _, tt := range []struct {
		name, key, id, want string
		ok                  bool
	}{
		{"a key that folded the GUID's fragment", "id:scripting.com/2017/06/26.html", "http://scripting.com/2017/06/26.html#a080605", "id:scripting.com/2017/06/26.html#a080605", true},
		{"a key of today's rule", "id:scripting.com/2017/06/26.html#a080605", "http://scripting.com/2017/06/26.html#a080605", "", false},
		{"a GUID without a fragment", "id:example.org/a", "https://example.org/a/?utm_source=x", "", false},
		{"a GUID that is not a URL", "id:post#1", "post#1", "", false},
		{"keyed by link", "link:scripting.com/2017/06/26.html", "http://scripting.com/2017/06/26.html#a080605", "", false},
		{"a key another rule made", "id:other", "http://scripting.com/2017/06/26.html#a080605", "", false},
		{"no id", "id:x", "", "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := UpgradedKey(tt.key, tt.id)
			if got != tt.want || ok != tt.ok {
				t.Errorf("UpgradedKey(%q, %q) = %q, %v; want %q, %v", tt.key, tt.id, got, ok, tt.want, tt.ok)
			}
		})
	}
}
