package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// outletFeeds are one Yonhap story as three outlets' feeds carry it: the
// agency; a paper linking to the agency's page over http with its own
// tracking parameters; a paper with its own page and the title's
// punctuation changed. Each feed has a story of its own as well.
var outletFeeds = map[string]string{
	"/yonhap.xml": `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>연합뉴스 정치</title><link>https://www.yna.co.kr/politics</link><description>d</description>
<item><title>北, 동해상으로 탄도미사일 발사…합참 "추가 도발 대비"</title>
<link>https://www.yna.co.kr/view/AKR20250301000100504?input=1195m</link>
<guid isPermaLink="false">AKR20250301000100504</guid><pubDate>Sat, 01 Mar 2025 09:30:00 +0900</pubDate>
<description>북한이 1일 동해상으로 탄도미사일을 발사했다.</description></item>
<item><title>한미 외교장관 전화 통화…대북 공조 재확인</title>
<link>https://www.yna.co.kr/view/AKR20250301000200504</link>
<guid isPermaLink="false">AKR20250301000200504</guid><pubDate>Sat, 01 Mar 2025 08:00:00 +0900</pubDate></item>
</channel></rss>`,
	"/hani.xml": `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>한겨레</title><link>https://www.hani.co.kr/</link><description>d</description>
<item><title>北, 동해상으로 탄도미사일 발사…합참 "추가 도발 대비"</title>
<link>http://www.yna.co.kr/view/AKR20250301000100504?input=1195m&amp;utm_source=hani&amp;utm_medium=rss</link>
<guid isPermaLink="false">hani-1185021</guid><pubDate>Sat, 01 Mar 2025 09:50:00 +0900</pubDate></item>
<item><title>국회 예산안 처리 합의 불발</title>
<link>https://www.hani.co.kr/arti/politics/1185022.html</link>
<guid isPermaLink="false">hani-1185022</guid><pubDate>Sat, 01 Mar 2025 10:00:00 +0900</pubDate></item>
</channel></rss>`,
	"/kmib.xml": `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>국민일보 정치</title><link>https://www.kmib.co.kr/</link><description>d</description>
<item><title>[속보] 北 동해상으로 탄도미사일 발사 ‘합참, 추가 도발 대비’</title>
<link>https://news.kmib.co.kr/article/view.asp?arcid=0020912345&amp;code=61111111&amp;sid1=pol&amp;fbclid=IwAR0</link>
<pubDate>Sat, 01 Mar 2025 11:30:00 +0900</pubDate></item>
</channel></rss>`,
}

func TestExplainMergedStory(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := outletFeeds[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/rss+xml; charset=utf-8")
		fmt.Fprint(w, body)
	}))
	defer origin.Close()
	dir := t.TempDir()
	db := filepath.Join(dir, "aggregator.db")
	// writeCfg writes a config polling the given sources, all tagged news.
	writeCfg := func(ids ...string) string {
		var b strings.Builder
		fmt.Fprintf(&b, "storage: { path: %q }\nfetch: { allow_private_networks: true, contact: ops@example.org }\nsources:\n", db)
		for _, id := range ids {
			fmt.Fprintf(&b, "  - { id: %s, url: %q, tags: [news] }\n", id, origin.URL+"/"+id+".xml")
		}
		b.WriteString("channels:\n  - { id: all, title: All, tags: [news] }\n")
		if slices.Contains(ids, "kmib") {
			b.WriteString("  - { id: kmib-only, title: KMIB, sources: [kmib] }\n")
		}
		path := filepath.Join(dir, "feeds.yaml")
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	runOK := func(args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), args, noenv, &stdout, &stderr); err != nil {
			t.Fatalf("%v: %v\n%s%s", args, err, stdout.String(), stderr.String())
		}
		return stdout.String()
	}
	// The agency is polled first, so it is the story's first origin.
	runOK("fetch", "-config", writeCfg("yonhap"))
	cfg := writeCfg("yonhap", "hani", "kmib")
	if out := runOK("fetch", "-config", cfg); !strings.Contains(out, "1 new items, 0 updated, 2 merged") {
		t.Errorf("fetch:\n%s", out)
	}

	for _, q := range []string{
		"https://news.kmib.co.kr/article/view.asp?sid1=pol&code=61111111&arcid=0020912345", // kmib's link, reordered
		"AKR20250301000100504", // the agency's guid
		"hani/id:hani-1185021", // SOURCE/KEY
	} {
		t.Run(q, func(t *testing.T) {
			out := runOK("explain", q, "-config", cfg)
			t.Logf("aggregator explain %s\n%s", q, out)
			for _, want := range []*regexp.Regexp{
				regexp.MustCompile(`story\s+yonhap/id:AKR20250301000100504`),
				regexp.MustCompile(`channels\s+all, kmib-only`),
				regexp.MustCompile(`1\. yonhap\s+id:AKR20250301000100504\s+\S+\s+first origin`),
				regexp.MustCompile(`\d\. hani\s+id:hani-1185021\s+20\d\d-\S+\s+merged by link: the same canonical link \(www\.yna\.co\.kr/view/AKR20250301000100504\?input=1195m\)`),
				regexp.MustCompile(`\d\. kmib\s+link:news\.kmib\.co\.kr/article/view\.asp\?arcid=0020912345&code=61111111&sid1=pol\s+20\d\d-\S+\s+merged by title`),
				regexp.MustCompile(`(?m)^reasons:\n  - identity: identified by the upstream GUID/id, under the source's identity policy "auto"\n  - merged: carried by 3 sources`),
			} {
				if !want.MatchString(out) {
					t.Errorf("explain %s: output does not match %s:\n%s", q, want, out)
				}
			}
		})
	}
	t.Run("unknown item", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), []string{"explain", "-config", cfg, "https://example.org/nothing"}, noenv, &stdout, &stderr)
		if exitCode(err) != 1 || !strings.Contains(stderr.String(), "no stored item") {
			t.Errorf("err %v, stderr %q; want exit 1 and a message", err, stderr.String())
		}
	})
	t.Run("no item", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), []string{"explain", "-config", cfg}, noenv, &stdout, &stderr); exitCode(err) != 2 {
			t.Errorf("err %v, want a usage error", err)
		}
	})
}

func TestExplainShowsFeedWarning(t *testing.T) {
	const doc = `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>통일뉴스</title><link>https://www.tongilnews.com/</link><description>d</description>
<item><title>남북 정상 핫라인 복원 합의</title><link>https://www.tongilnews.com/news/articleView.html?idxno=204226</link><guid>https://www.tongilnews.com/</guid></item>
<item><title>개성공단 재가동 논의 시작</title><link>https://www.tongilnews.com/news/articleView.html?idxno=204227</link><guid>https://www.tongilnews.com/</guid></item>
</channel></rss>`
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, doc) }))
	defer origin.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "feeds.yaml")
	yaml := fmt.Sprintf("storage: { path: %q }\nfetch: { allow_private_networks: true, contact: ops@example.org }\nsources:\n  - { id: tongil, url: %q }\nchannels:\n  - { id: all, title: All, sources: [tongil] }\n",
		filepath.Join(dir, "db"), origin.URL+"/rss.xml")
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"fetch", "-config", cfg}, noenv, &stdout, &stderr); err != nil {
		t.Fatalf("fetch: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), `warning: tongil: the feed gives 2 different items the guid "https://www.tongilnews.com/"`) {
		t.Errorf("fetch output lacks the warning:\n%s", stdout.String())
	}
	stdout.Reset()
	if err := run(context.Background(), []string{"explain", "-config", cfg, "https://www.tongilnews.com/news/articleView.html?idxno=204227"}, noenv, &stdout, &stderr); err != nil {
		t.Fatalf("explain: %v\n%s", err, stderr.String())
	}
	for _, want := range []string{
		"story        tongil/link:www.tongilnews.com/news/articleView.html?idxno=204227",
		`identity: identified by the canonical link`,
		`warning: the last poll of tongil warned: the feed gives 2 different items the guid`,
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("explain output lacks %q:\n%s", want, stdout.String())
		}
	}
}
