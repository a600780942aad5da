package server

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/membership"
	"github.com/kpolicy/aggregator/internal/publish"
	"github.com/kpolicy/aggregator/internal/search"
	"github.com/kpolicy/aggregator/internal/store/bolt"
)

// outputs records FeedRecorder calls.
type outputs struct {
	mu  sync.Mutex
	got []string
}

func (o *outputs) Output(channel, format string, status int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.got = append(o.got, fmt.Sprintf("%s %s %d", channel, format, status))
}

type site struct {
	*Server
	db      *bolt.DB
	ix      *search.Index
	members *membership.Index
	outputs *outputs
	first   feed.Item // the newest item of "yonhap"
	ready   error
}

// published tells the search index where items are published.
type published struct {
	*bolt.DB
	m *membership.Index
}

func (p published) ChannelsOf(ctx context.Context, it feed.Item) ([]string, error) {
	return p.m.LabelsOf(ctx, it)
}

func (p published) Judged(ctx context.Context) (uint64, error) { return p.m.Followed(ctx) }

// newSite serves one channel, "news", of two sources from a real store,
// membership index and search index: 45 items of "yonhap" (Korean) and one
// of "keia". The subscription documents publish the newest 30; the pages
// go through all 46.
func newSite(t *testing.T) *site {
	t.Helper()
	dir := t.TempDir()
	db, err := bolt.Open(filepath.Join(dir, "a.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	base := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	var items []feed.Item
	for i := range 45 {
		items = append(items, feed.Item{
			Key: fmt.Sprintf("k%02d", i), Link: fmt.Sprintf("https://yna.example/%d", i),
			Title:   fmt.Sprintf("북한 소식 %d", i),
			Summary: fmt.Sprintf("<p>오늘의 뉴스를 전합니다 (%d). <a href=\"https://yna.example/\">연합</a></p>", i),
			Content: `<p>본문</p><script>alert(1)</script><img src="x" onerror="alert(2)">`,
			Authors: []feed.Person{{Name: "김기자"}}, Categories: []feed.Category{{Term: "정치"}},
			Language:  "ko",
			Published: base.Add(time.Duration(i) * time.Hour), Dated: true,
		})
	}
	// The oldest has what an item page shows of its authors and attachments.
	items[0].Authors = []feed.Person{{Name: "김기자", URI: "https://yna.example/reporters/kim"},
		{Name: "Lee", URI: "javascript:alert(1)"}, {Email: "desk@yna.example"}, {URI: "https://yna.example/nobody"}}
	items[0].Enclosures = []feed.Enclosure{{URL: "https://yna.example/media/%EB%89%B4%EC%8A%A4%201.mp3", Type: "audio/mpeg", Length: 12_345_678},
		{URL: "https://yna.example/media/clip.mp4", Type: "video/mp4"}, {URL: "https://yna.example/media/photo.jpg", Type: "image/jpeg", Length: 512},
		{URL: "https://yna.example/media/", Length: 2048}}
	if _, err := db.SavePoll(context.Background(), "yonhap", items, feed.SourceState{}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SavePoll(context.Background(), "keia", []feed.Item{{Key: "e1", Title: "Alliance & Missiles", Summary: "<p>An essay on missiles.</p>", Published: base, Dated: true,
		Link: "https://keia.example/e1"}}, feed.SourceState{}); err != nil {
		t.Fatal(err)
	}
	// Yonhap carries KEI's essay too, under KEI's link: the store merges the
	// copy into KEI's item as an origin.
	copied := feed.Item{Key: "copy", Link: "https://keia.example/e1", Title: "Alliance & Missiles", Published: base.Add(time.Hour), Dated: true}
	if _, err := db.SavePoll(context.Background(), "yonhap", append(items, copied), feed.SourceState{}); err != nil {
		t.Fatal(err)
	}
	channels := []feed.Channel{{ID: "news", Title: "Korea News", Description: "News from the peninsula", Sources: []string{"yonhap", "keia"}, Limit: 30}}
	sources := []feed.Source{{ID: "yonhap", Title: "Yonhap"}, {ID: "keia", Title: "KEI"}}
	members := membership.New(db, membership.Options{})
	if err := members.Configure(context.Background(), channels, sources); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { members.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	if err := members.WaitCurrent(ctx); err != nil {
		t.Fatal(err)
	}
	cache := publish.NewCache(members, db, "https://agg.example")
	if err := cache.Configure(channels, sources); err != nil {
		t.Fatal(err)
	}
	ix, err := search.Open(filepath.Join(dir, "a.db.search"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	if _, err := ix.Sync(context.Background(), published{db, members}); err != nil {
		t.Fatal(err)
	}
	first, err := db.Item(context.Background(), "yonhap", "k44")
	if err != nil {
		t.Fatal(err)
	}
	s := &site{db: db, ix: ix, members: members, outputs: &outputs{}, first: first}
	s.Server = New(cache, fakeHealth{}, Options{Extras: Extras{
		BaseURL: "https://agg.example", Items: db, Members: members, Search: ix,
		Subscribers: NewSubscribers(db, nil, ""), Feeds: s.outputs,
		AdminToken: "s3cret", Backup: db,
		Ready: func() error { return s.ready },
	}})
	return s
}

func mustContain(t *testing.T, what, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("%s lacks %q", what, w)
		}
	}
}

func TestItemPage(t *testing.T) {
	s := newSite(t)
	it, err := s.db.Item(context.Background(), "keia", "e1")
	if err != nil {
		t.Fatal(err)
	}
	resp, body := do(t, s, "GET", "/items/"+it.Ref())
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	mustContain(t, "item page", body, "<h1>Alliance &amp; Missiles</h1>", "KEI", "An essay on missiles.",
		`<time datetime="2026-05-01T09:00:00Z">1 May 2026</time>`, `href="/channels/news">Return to Korea News</a>`)
	if len(it.Origins) != 1 || it.Origins[0].SourceID != "yonhap" {
		t.Fatalf("origins of the essay: %+v, want Yonhap's copy", it.Origins)
	}
	mustContain(t, "item page", body, "<li>KEI: <a class=\"url\" href=\"https://keia.example/e1\">", "<li>Yonhap: <a class=\"url\" href=\"https://keia.example/e1\">https://keia.example/e1</a>",
		`<p class="original"><a href="https://keia.example/e1">Read the original at KEI</a></p>`)

	_, body = do(t, s, "GET", "/items/"+feed.ItemRef("yonhap", "k00"))
	mustContain(t, "item page", body, `<h1 lang="ko">북한 소식 0</h1>`, `<div class="content" lang="ko"><p>본문</p>`, `<ul class="categories" lang="ko"><li>정치</li></ul>`,
		`<span class="byline">By <a href="https://yna.example/reporters/kim" rel="author">김기자</a>, Lee, desk@yna.example</span> · <time datetime="2026-05-01T09:00:00Z">1 May 2026</time> · <span class="source">Yonhap</span>`,
		`<h2 id="attachments">Attachments</h2>`,
		`<audio controls preload="none" src="https://yna.example/media/%EB%89%B4%EC%8A%A4%201.mp3"></audio>`+"\n"+`<a class="url" href="https://yna.example/media/%EB%89%B4%EC%8A%A4%201.mp3">뉴스 1.mp3</a> <span class="meta">(audio/mpeg, 12 MB)</span>`,
		`<video controls preload="none" src="https://yna.example/media/clip.mp4"></video>`+"\n"+`<a class="url" href="https://yna.example/media/clip.mp4">clip.mp4</a> <span class="meta">(video/mp4)</span>`,
		`<li><a class="url" href="https://yna.example/media/photo.jpg">photo.jpg</a> <span class="meta">(image/jpeg, 512 bytes)</span>`,
		`<a class="url" href="https://yna.example/media/">https://yna.example/media/</a> <span class="meta">(type not given, 2.0 KB)</span>`,
		`<p class="original"><a href="https://yna.example/0">Read the original at Yonhap</a></p>`,
		`<li><a href="/channels/news">Return to Korea News</a></li>`)
	if strings.Contains(body, "javascript:") || strings.Contains(body, "nobody") {
		t.Error("the item page links an author's URI that is not http(s), or names an author with no name")
	}
	if strings.Contains(body, "<html lang=\"ko\"") || !strings.Contains(body, "<p class=\"meta\"><span class=\"byline\">By") {
		t.Error("the page's own text is not in the site's language")
	}
	for _, bad := range []string{"<script", "onerror", "alert("} {
		if strings.Contains(body, bad) {
			t.Errorf("item page has %q: stored HTML is not sanitised at render", bad)
		}
	}
	for _, path := range []string{"/items/nope!", "/items/" + feed.ItemRef("yonhap", "missing")} {
		if resp, _ := do(t, s, "GET", path); resp.StatusCode != 404 {
			t.Errorf("%s: %d, want 404", path, resp.StatusCode)
		}
	}
}

// nextLink returns the href of a page's rel=next (or rel=prev) link.
func pageLink(body, rel string) string {
	i := strings.Index(body, `" rel="`+rel+`"`)
	if i < 0 {
		return ""
	}
	j := strings.LastIndex(body[:i], `href="`)
	return html.UnescapeString(body[j+len(`href="`) : i])
}

func TestChannelPaging(t *testing.T) {
	s := newSite(t)
	_, body := do(t, s, "GET", "/channels/news")
	mustContain(t, "page 1", body, "북한 소식 44", "북한 소식 25")
	if strings.Contains(body, "북한 소식 24<") || strings.Contains(body, `rel="prev"`) {
		t.Error("page 1 shows more than 20 items or a previous link")
	}
	// Page 2 holds items 20–39 of 46: past the 30 the documents publish.
	next := pageLink(body, "next")
	if !strings.HasPrefix(next, "/channels/news?page=2&after=") {
		t.Fatalf("page 1's next link %q", next)
	}
	_, body = do(t, s, "GET", next)
	mustContain(t, "page 2", body, "북한 소식 24<", "북한 소식 5<", `href="/channels/news" rel="prev"`, "Items, page 2")
	_, body = do(t, s, "GET", pageLink(body, "next"))
	mustContain(t, "page 3", body, "북한 소식 4<", "북한 소식 0<", "Alliance &amp; Missiles")
	if strings.Contains(body, `rel="next"`) {
		t.Error("the last page links to a next one")
	}
	// Back from page 3 is page 2 again, through its cursor.
	prev := pageLink(body, "prev")
	if !strings.HasPrefix(prev, "/channels/news?page=2&before=") {
		t.Fatalf("page 3's prev link %q", prev)
	}
	_, body = do(t, s, "GET", prev)
	mustContain(t, "page 2 from page 3", body, "북한 소식 24<", "북한 소식 5<", `rel="next"`)
	// A bookmarked page number, without a cursor.
	_, body = do(t, s, "GET", "/channels/news?page=3")
	mustContain(t, "page 3 by number", body, "북한 소식 4<", "Alliance &amp; Missiles")
	for path, want := range map[string]int{"/channels/news?page=4": 404, "/channels/news?page=0": 400, "/channels/news?page=x": 400,
		"/channels/news?after=zzz": 400, "/channels/news?page=1001": 400} {
		if resp, _ := do(t, s, "GET", path); resp.StatusCode != want {
			t.Errorf("%s: %d, want %d", path, resp.StatusCode, want)
		}
	}
}

func TestSearchPage(t *testing.T) {
	s := newSite(t)
	resp, body := do(t, s, "GET", "/search?q=%EB%89%B4%EC%8A%A4&sort=newest") // 뉴스
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	mustContain(t, "search page", body, "Total index: 46 publications", "45 results, 1 to 20",
		"오늘의 <mark>뉴스</mark>를 전합니다 (44)", `value="뉴스"`, `href="/search?page=2&amp;q=%EB%89%B4%EC%8A%A4&amp;sort=newest" rel="next"`)

	_, body = do(t, s, "GET", "/search?q=missiles&format=json")
	var got struct {
		Total   int `json:"total"`
		Results []struct {
			ID, URL, Title, Snippet, Source string
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("json: %v\n%s", err, body)
	}
	if got.Total != 1 || len(got.Results) != 1 || got.Results[0].Title != "Alliance & Missiles" || got.Results[0].Source != "KEI" ||
		got.Results[0].Snippet != "An essay on <mark>missiles</mark>." || got.Results[0].URL != "/items/"+feed.ItemRef("keia", "e1") {
		t.Errorf("json = %+v", got)
	}

	_, body = do(t, s, "GET", "/search?q=missiles&source=yonhap&format=json")
	if !strings.HasPrefix(body, `{"total":0,`) || !strings.Contains(body, `"results":[]`) {
		t.Errorf("filtered by source: %s", body)
	}
	_, body = do(t, s, "GET", "/search?channel=news&from=2026-05-02&to=2026-05-02&format=json")
	if !strings.HasPrefix(body, `{"total":24,`) {
		t.Errorf("one day of the channel: %.80s", body)
	}
	for _, path := range []string{"/search?sort=oldest", "/search?from=May", "/search?channel=nope", "/search?page=0"} {
		if resp, _ := do(t, s, "GET", path); resp.StatusCode != 400 {
			t.Errorf("%s: %d, want 400", path, resp.StatusCode)
		}
	}
	_, body = do(t, s, "GET", "/search")
	mustContain(t, "empty search", body, "Total index: 46 publications")

	resp, body = do(t, s, "GET", "/opensearch.xml")
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/opensearchdescription+xml") {
		t.Errorf("opensearch Content-Type %q", ct)
	}
	mustContain(t, "opensearch", body, `template="https://agg.example/search?q={searchTerms}&amp;page={startPage?}"`)
	_, body = do(t, s, "GET", "/")
	mustContain(t, "index", body, `<link rel="search" type="application/opensearchdescription+xml"`, `href="/status"`, `href="/status/subscribers"`)
}

func TestAdminBackup(t *testing.T) {
	s := newSite(t)
	for _, tc := range []struct {
		auth string
		want int
	}{{"", 401}, {"Bearer wrong", 401}, {"s3cret", 401}, {"Bearer s3cret", 200}} {
		resp, body := do(t, s, "GET", "/admin/backup", "Authorization", tc.auth)
		if resp.StatusCode != tc.want {
			t.Errorf("Authorization %q: %d, want %d", tc.auth, resp.StatusCode, tc.want)
		}
		if tc.want != 200 {
			continue
		}
		path := filepath.Join(t.TempDir(), "b.db")
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		cp, err := bolt.Open(path, bolt.Options{})
		if err != nil {
			t.Fatalf("backup does not open: %v", err)
		}
		if n, _ := cp.Count(context.Background()); n != 46 {
			t.Errorf("backup holds %d items, want 46", n)
		}
		cp.Close()
	}
	s.AdminToken = ""
	if resp, _ := do(t, s, "GET", "/admin/backup", "Authorization", "Bearer "); resp.StatusCode != 404 {
		t.Errorf("no token configured: %d, want 404", resp.StatusCode)
	}
}

func TestReadyz(t *testing.T) {
	s := newSite(t)
	s.ready = fmt.Errorf("first poll not done: 3 sources to go")
	if resp, body := do(t, s, "GET", "/readyz"); resp.StatusCode != 503 || !strings.Contains(body, "3 sources to go") {
		t.Errorf("not ready: %d %q", resp.StatusCode, body)
	}
	s.ready = nil
	if resp, _ := do(t, s, "GET", "/readyz"); resp.StatusCode != 200 {
		t.Errorf("ready: %d", resp.StatusCode)
	}
	if resp, _ := do(t, s, "GET", "/metrics"); resp.StatusCode != 404 {
		t.Errorf("/metrics without a handler: %d, want 404", resp.StatusCode)
	}
}

func TestSubscribers(t *testing.T) {
	s := newSite(t)
	get := func(addr, ua string, header ...string) int {
		req := httptest.NewRequest("GET", "/feeds/news.atom", nil)
		req.RemoteAddr = addr
		req.Header.Set("User-Agent", ua)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		return rec.Code
	}
	doc, err := s.feeds.Document("news", publish.Atom)
	if err != nil {
		t.Fatal(err)
	}
	get("10.0.0.1:1000", "Mozilla/5.0")
	get("10.0.0.1:2000", "Mozilla/5.0", "If-None-Match", doc.ETag) // same client, another port: 304
	get("10.0.0.2:1000", "Mozilla/5.0")
	get("10.0.0.2:1000", "NetNewsWire")
	get("192.0.2.9:1", "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 123 subscribers; )")
	get("192.0.2.9:1", "Feedly/1.0 (+http://www.feedly.com/fetcher.html; 125 subscribers; )")
	get("192.0.2.10:1", "Mozilla/5.0 (compatible; Inoreader/1.0; https://www.inoreader.com; 45 subscribers)")
	get("192.0.2.11:1", "NewsBlur Feed Fetcher - 12 subscribers - https://www.newsblur.com/site/1/ (Mozilla/5.0)")
	get("192.0.2.12:1", "Feedbin feed-id:1373711 - 7 subscribers")
	get("192.0.2.13:1", "Feedbin feed-id:99 - 1 subscriber")
	if code := get("10.0.0.3:1", "Mozilla/5.0"); code != 200 {
		t.Fatalf("feed: %d", code)
	}
	req := httptest.NewRequest("GET", "/feeds/other.atom", nil) // unknown channel: not counted
	s.ServeHTTP(httptest.NewRecorder(), req)

	days := s.Subscribers.Today()
	if len(days) != 1 {
		t.Fatalf("Today = %+v, want one channel", days)
	}
	d := days[0]
	want := feed.SubscriberDay{Channel: "news", Day: d.Day, Requests: 11, NotModified: 1, Clients: 4, Reported: 125 + 45 + 12 + 7 + 1}
	if d != want {
		t.Errorf("Today = %+v\n want %+v", d, want)
	}
	if got := strings.Join(s.outputs.got, ","); !strings.HasPrefix(got, "news atom 200,news atom 304,") || !strings.HasSuffix(got, ",  404") {
		t.Errorf("feed requests recorded: %s", got)
	}

	if err := s.Subscribers.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	again := NewSubscribers(s.db, nil, "") // after a restart
	if err := again.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := again.Today(); len(got) != 1 || got[0] != want {
		t.Errorf("after a restart Today = %+v, want %+v", got, want)
	}
	_, body := do(t, s, "GET", "/status/subscribers")
	mustContain(t, "subscribers page", body, `<td>`+d.Day+`</td><td>11</td><td>1</td><td>4</td><td>190</td><td>194</td>`)
}

func newRequest(addr, ua string) *http.Request {
	r := httptest.NewRequest("GET", "/feeds/news.atom", nil)
	r.RemoteAddr = addr
	r.Header.Set("User-Agent", ua)
	return r
}

// TestUnpublishedItem: a stored item that no channel shows is served by no
// URL: not its item page, not search.
func TestUnpublishedItem(t *testing.T) {
	s := newSite(t)
	if _, err := s.db.SavePoll(context.Background(), "other", []feed.Item{{Key: "o1", Title: "Unpublished missiles", Published: s.first.Published, Dated: true}}, feed.SourceState{}); err != nil {
		t.Fatal(err)
	}
	s.members.Kick()
	if err := s.members.WaitCurrent(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ix.Sync(context.Background(), published{s.db, s.members}); err != nil {
		t.Fatal(err)
	}
	if resp, _ := do(t, s, "GET", "/items/"+feed.ItemRef("other", "o1")); resp.StatusCode != 404 {
		t.Errorf("item page of an item in no channel: %d, want 404", resp.StatusCode)
	}
	_, body := do(t, s, "GET", "/search?q=missiles&format=json")
	if strings.Contains(body, "Unpublished") || !strings.HasPrefix(body, `{"total":1,"index":46,`) {
		t.Errorf("search finds what no channel publishes: %.120s", body)
	}
}
