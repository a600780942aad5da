package mail

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	netmail "net/mail"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/net/html"

	"github.com/kpolicy/aggregator/internal/feed"
)

const testBase = "https://news.example.org"

func testComposer(t testing.TB, base string) *Composer {
	t.Helper()
	from, err := ParseFrom("The Peninsula <updates@keia.org>")
	if err != nil {
		t.Fatal(err)
	}
	seoul, err := time.LoadLocation("Asia/Seoul")
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewComposer(Site{From: from, BaseURL: base, PostalAddress: "1800 K St NW, Suite 1010\nWashington, DC 20006", Location: seoul}, testTokens(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var testList = List{
	ID: "the-peninsula", Title: "The Peninsula",
	PageURL: testBase + "/channels/the-peninsula",
	Sources: map[string]string{"kei": "Korea Economic Institute", "yonhap": "연합뉴스"},
}

func testItems() []feed.Item {
	pub := time.Date(2026, 3, 4, 23, 30, 0, 0, time.UTC) // 5 March in Seoul
	return []feed.Item{
		{SourceID: "yonhap", Key: "id:1", Title: "북한, 동해상으로 탄도미사일 발사", Link: "https://www.yna.co.kr/view/AKR1",
			Summary: "<p>합동참모본부는 5일 북한이 <b>동해상으로</b> 탄도미사일을 발사했다고 밝혔다.</p>", Published: pub,
			Authors: []feed.Person{{Name: "김민수"}}},
		{SourceID: "kei", Key: "id:2", Title: "Alliance Politics in 2026", Link: "https://keia.org/the-peninsula/alliance",
			Content: `<p>First paragraph.</p><p>Second, with <a href="https://example.org/ref">a link</a>.</p>`, Published: pub.Add(-time.Hour),
			Authors: []feed.Person{{Name: "Jane Doe"}, {Name: "John Roe"}}},
	}
}

// parsed is a mail as a receiving program reads it.
type parsed struct {
	header netmail.Header
	raw    string
	types  []string
	text   string
	html   string
}

func parseMail(t testing.TB, m *Message) parsed {
	t.Helper()
	var b bytes.Buffer
	if _, err := m.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return parseRaw(t, b.Bytes())
}

func parseRaw(t testing.TB, raw []byte) parsed {
	t.Helper()
	for i, line := range strings.Split(string(raw), "\r\n") {
		if len(line) > 998 {
			t.Errorf("line %d is %d characters, more than RFC 5322's 998", i+1, len(line))
		}
	}
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("net/mail cannot read the mail: %v", err)
	}
	p := parsed{header: msg.Header, raw: string(raw)}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q (%v), want multipart/alternative", msg.Header.Get("Content-Type"), err)
	}
	r := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := r.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("multipart: %v", err)
		}
		ct, cparams, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		if !strings.EqualFold(cparams["charset"], "utf-8") {
			t.Errorf("part %s has charset %q, want UTF-8", ct, cparams["charset"])
		}
		var body io.Reader = part
		switch enc := strings.ToLower(part.Header.Get("Content-Transfer-Encoding")); enc {
		case "quoted-printable":
			body = quotedprintable.NewReader(part)
		case "base64":
			body = base64.NewDecoder(base64.StdEncoding, part)
		default:
			t.Errorf("part %s: transfer encoding %q, want quoted-printable or base64", ct, enc)
		}
		data, err := io.ReadAll(body)
		if err != nil {
			t.Fatalf("part %s: %v", ct, err)
		}
		if !utf8.Valid(data) {
			t.Errorf("part %s is not valid UTF-8", ct)
		}
		p.types = append(p.types, ct)
		switch ct {
		case "text/plain":
			// Lines end in CRLF on the wire; read them as a client shows them.
			p.text = strings.ReplaceAll(string(data), "\r\n", "\n")
		case "text/html":
			p.html = string(data)
		}
	}
	return p
}

func (p parsed) subject(t testing.TB) string {
	t.Helper()
	s, err := new(mime.WordDecoder).DecodeHeader(p.header.Get("Subject"))
	if err != nil {
		t.Fatalf("Subject %q: %v", p.header.Get("Subject"), err)
	}
	return s
}

func TestMailHeaders(t *testing.T) {
	c := testComposer(t, testBase)
	m, err := c.Mail(testList, "reader@example.org", Edition{Mode: feed.DigestInstant, Items: testItems()}, t0)
	if err != nil {
		t.Fatal(err)
	}
	p := parseMail(t, m)
	if got, want := strings.Join(p.types, " "), "text/plain text/html"; got != want {
		t.Errorf("parts %q, want %q", got, want)
	}
	h := p.header
	from, err := h.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Address != "updates@keia.org" || from[0].Name != "The Peninsula" {
		t.Errorf("From %q: %v", h.Get("From"), err)
	}
	if to, err := h.AddressList("To"); err != nil || len(to) != 1 || to[0].Address != "reader@example.org" {
		t.Errorf("To %q: %v", h.Get("To"), err)
	}
	if d, err := h.Date(); err != nil || !d.Equal(t0) {
		t.Errorf("Date %q = %v, %v; want %v", h.Get("Date"), d, err, t0)
	}
	if id := h.Get("Message-Id"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@keia.org>") {
		t.Errorf("Message-ID %q, want <…@keia.org>", id)
	}
	if got, want := h.Get("List-Id"), `"The Peninsula" <the-peninsula.keia.org>`; got != want {
		t.Errorf("List-Id %q, want %q", got, want)
	}
	unsub := listUnsubscribe(t, h.Get("List-Unsubscribe"))
	if len(unsub) != 2 || !strings.HasPrefix(unsub[0], testBase+"/mail/unsubscribe/") ||
		unsub[1] != "mailto:updates@keia.org?subject=unsubscribe%20the-peninsula" {
		t.Errorf("List-Unsubscribe %q, want <%s/mail/unsubscribe/…>, <mailto:…>", h.Get("List-Unsubscribe"), testBase)
	}
	if got := h.Get("List-Unsubscribe-Post"); got != "List-Unsubscribe=One-Click" {
		t.Errorf("List-Unsubscribe-Post %q", got)
	}
	if h.Get("Auto-Submitted") != "auto-generated" || h.Get("Precedence") != "list" {
		t.Errorf("Auto-Submitted %q, Precedence %q", h.Get("Auto-Submitted"), h.Get("Precedence"))
	}
	// The one-click link is a real unsubscribe token for this address.
	tok := strings.TrimPrefix(unsub[0], testBase+"/mail/unsubscribe/")
	if cl, err := testTokens(t, 1).Open(tok, Unsubscribe, t0); err != nil || cl.Address != "reader@example.org" || cl.Channel != "the-peninsula" {
		t.Errorf("the List-Unsubscribe token opens to %+v, %v", cl, err)
	}
	if got, want := p.subject(t), "2 new items in The Peninsula"; got != want {
		t.Errorf("Subject %q, want %q", got, want)
	}
}

// listUnsubscribe returns the URIs of a List-Unsubscribe value.
func listUnsubscribe(t testing.TB, v string) []string {
	t.Helper()
	var out []string
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if !strings.HasPrefix(part, "<") || !strings.HasSuffix(part, ">") {
			t.Fatalf("List-Unsubscribe %q: %q is not <uri>", v, part)
		}
		out = append(out, part[1:len(part)-1])
	}
	return out
}

func TestMailBody(t *testing.T) {
	c := testComposer(t, testBase)
	m, err := c.Mail(testList, "reader@example.org", Edition{Mode: feed.DigestInstant, Items: testItems()}, t0)
	if err != nil {
		t.Fatal(err)
	}
	p := parseMail(t, m)
	for _, want := range []string{
		"The Peninsula", "북한, 동해상으로 탄도미사일 발사", "https://www.yna.co.kr/view/AKR1",
		"연합뉴스 · by 김민수 · 5 March 2026", "합동참모본부는 5일 북한이 동해상으로 탄도미사일을 발사했다고 밝혔다.",
		"Korea Economic Institute · by Jane Doe, John Roe", "First paragraph.\n\nSecond, with a link.",
		"Unsubscribe: " + testBase + "/mail/unsubscribe/", "Change how often you get it: " + testBase + "/mail/manage/",
		"1800 K St NW, Suite 1010\nWashington, DC 20006", "reader@example.org subscribed to The Peninsula",
	} {
		if !strings.Contains(p.text, want) {
			t.Errorf("text part lacks %q:\n%s", want, p.text)
		}
	}
	doc := parseHTML(t, p.html)
	links := doc.links()
	for _, want := range []string{"https://www.yna.co.kr/view/AKR1", "https://keia.org/the-peninsula/alliance",
		"https://example.org/ref", testList.PageURL} {
		if !links[want] {
			t.Errorf("HTML part has no link to %s; links: %v", want, links)
		}
	}
	var manage, unsub bool
	for l := range links {
		manage = manage || strings.HasPrefix(l, testBase+"/mail/manage/")
		unsub = unsub || strings.HasPrefix(l, testBase+"/mail/unsubscribe/")
	}
	if !manage || !unsub {
		t.Errorf("HTML footer: manage link %v, unsubscribe link %v", manage, unsub)
	}
	for _, want := range []string{"북한, 동해상으로 탄도미사일 발사", "연합뉴스 · by 김민수 · 5 March 2026", "Washington, DC 20006"} {
		if !strings.Contains(doc.text, want) {
			t.Errorf("HTML part lacks %q", want)
		}
	}
	if doc.count["h2"] != 2 || doc.count["b"] != 1 {
		t.Errorf("HTML: %d item headings and %d <b>, want 2 and 1", doc.count["h2"], doc.count["b"])
	}
}

// htmlDoc is what a test reads from an HTML part.
type htmlDoc struct {
	count map[string]int  // elements by name
	attrs map[string]bool // every attribute name seen
	hrefs []string
	srcs  []string // every src attribute
	text  string
}

func (d htmlDoc) links() map[string]bool {
	m := map[string]bool{}
	for _, h := range d.hrefs {
		m[h] = true
	}
	return m
}

func parseHTML(t testing.TB, s string) htmlDoc {
	t.Helper()
	root, err := html.Parse(strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	d := htmlDoc{count: map[string]int{}, attrs: map[string]bool{}}
	var text strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		switch n.Type {
		case html.ElementNode:
			d.count[n.Data]++
			for _, a := range n.Attr {
				d.attrs[a.Key] = true
				switch a.Key {
				case "href":
					d.hrefs = append(d.hrefs, a.Val)
				case "src":
					d.srcs = append(d.srcs, a.Val)
				}
			}
		case html.TextNode:
			text.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	d.text = text.String()
	return d
}

func TestSubjects(t *testing.T) {
	c := testComposer(t, testBase)
	items := testItems()
	for _, tc := range []struct {
		e    Edition
		want string
	}{
		{Edition{Mode: feed.DigestInstant, Items: items[:1]}, "북한, 동해상으로 탄도미사일 발사"},
		{Edition{Mode: feed.DigestInstant, Items: items}, "2 new items in The Peninsula"},
		{Edition{Mode: feed.DigestInstant, Items: []feed.Item{{SourceID: "kei", Key: "x"}}}, "1 new item in The Peninsula"},
		// 07:00 in Seoul on 6 March is 22:00 UTC on the 5th: the date is Seoul's.
		{Edition{Mode: feed.DigestDaily, Due: time.Date(2026, 3, 5, 22, 0, 0, 0, time.UTC), Items: items}, "The Peninsula daily, 6 March 2026: 2 new items"},
		{Edition{Mode: feed.DigestWeekly, Due: time.Date(2026, 3, 8, 22, 0, 0, 0, time.UTC), Items: items[:1]}, "The Peninsula weekly, 9 March 2026: 1 new item"},
	} {
		m, err := c.Mail(testList, "reader@example.org", tc.e, t0)
		if err != nil {
			t.Fatal(err)
		}
		if got := parseMail(t, m).subject(t); got != tc.want {
			t.Errorf("%s with %d items: subject %q, want %q", tc.e.Mode, len(tc.e.Items), got, tc.want)
		}
	}
	if _, err := c.Mail(testList, "reader@example.org", Edition{Mode: feed.DigestDaily}, t0); err == nil {
		t.Error("a digest without items was composed")
	}
	if _, err := c.Mail(testList, "reader@example.org", Edition{Mode: "hourly", Items: items}, t0); err == nil {
		t.Error("an unknown mode was composed")
	}
}

// TestKoreanSurvives: Korean in the subject, the channel title (List-Id)
// and the bodies comes back intact after encoding, whichever transfer
// encoding is chosen.
func TestKoreanSurvives(t *testing.T) {
	c := testComposer(t, testBase)
	l := testList
	l.Title = "한반도 소식 — 북한·통일·외교 " + strings.Repeat("긴 제목 ", 30)
	korean := strings.Repeat("<p>통일부는 이날 남북 관계에 대한 입장을 발표했다. 외교부 대변인은 “대화의 문은 열려 있다”고 말했다.</p>", 20)
	items := []feed.Item{{SourceID: "yonhap", Key: "k", Title: "통일부 “북한, 대화 제의에 응답 없어” " + strings.Repeat("가", 100), Link: "https://www.yna.co.kr/k", Summary: korean, Published: t0}}
	m, err := c.Mail(l, "reader@example.org", Edition{Mode: feed.DigestInstant, Items: items}, t0)
	if err != nil {
		t.Fatal(err)
	}
	p := parseMail(t, m)
	if got, want := p.subject(t), oneLine(items[0].Title, maxSubject); got != want {
		t.Errorf("subject %q, want %q", got, want)
	}
	if !strings.Contains(p.raw, "Content-Transfer-Encoding: base64") {
		t.Error("a mail mostly in Korean is not base64")
	}
	listID, err := new(mime.WordDecoder).DecodeHeader(p.header.Get("List-Id"))
	if err != nil || !strings.HasPrefix(listID, "한반도 소식 — 북한·통일·외교") || !strings.HasSuffix(listID, " <the-peninsula.keia.org>") {
		t.Errorf("List-Id decodes to %q, %v", listID, err)
	}
	for _, part := range []string{p.text, p.html} {
		if !strings.Contains(part, "외교부 대변인은 “대화의 문은 열려 있다”고 말했다.") {
			t.Errorf("a part lost the Korean text:\n%.500s", part)
		}
	}
}

// TestHostileItems: what a hostile feed puts in an item never reaches the
// headers, never leaves markup open and never runs.
func TestHostileItems(t *testing.T) {
	c := testComposer(t, "http://localhost:8080")
	megabyte := strings.Repeat("가나다라 ", 1<<20/13)
	hostile := []feed.Item{
		{SourceID: "evil", Key: "1", Title: "Breaking\r\nBcc: victim@example.org\r\n\r\n<script>alert(1)</script>", Link: "javascript:alert(1)",
			Summary: `<script>alert(1)</script><img src="https://tracker.example/pixel.gif?u=1" width="1" height="1"><img src=x onerror=alert(1)><b>bold, never closed<table><tr><td>cell`},
		{SourceID: "evil", Key: "2", Title: megabyte, Summary: "<p>" + megabyte + "</p>", Authors: []feed.Person{{Name: megabyte}}},
		{SourceID: "evil", Key: "3", Title: "\u202egnp.exe\u202c invoice \u2066x\u2069", Summary: `<a href="https://example.org/a" onclick="steal()" target="_blank" style="x">a</a><iframe src="https://evil.example/"></iframe><video src="https://evil.example/v.mp4"></video><svg onload=alert(1)></svg><math><mi xlink:href="javascript:alert(1)">m</mi></math><style>body{display:none}</style><form action="https://evil.example/"><input name=p></form>`},
		{SourceID: "evil", Key: "4", Title: "\x00\x1b[31mred\x07", Content: "</div></article></main></body></html><p>after</p>", Authors: []feed.Person{{Name: "A\r\nB"}}},
	}
	l := List{ID: "hostile", Title: "Hostile\r\nX-Injected: 1", PageURL: "http://localhost:8080/channels/hostile", Sources: map[string]string{"evil": "Evil\nSource"}}
	for _, e := range []Edition{{Mode: feed.DigestInstant, Items: hostile[:1]}, {Mode: feed.DigestInstant, Items: hostile[1:2]}, {Mode: feed.DigestDaily, Due: t0, Items: hostile}} {
		m, err := c.Mail(l, "reader@example.org", e, t0)
		if err != nil {
			t.Fatal(err)
		}
		p := parseMail(t, m)
		for name := range p.header {
			switch name {
			case "Bcc", "X-Injected", "Cc":
				t.Errorf("header %s was injected: %q", name, p.header.Get(name))
			}
		}
		if to := p.header.Get("To"); to != "<reader@example.org>" {
			t.Errorf("To %q", to)
		}
		if s := p.subject(t); strings.ContainsAny(s, "\r\n\x00\u202e") || utf8.RuneCountInString(s) > maxSubject {
			t.Errorf("subject %q (%d runes) has a control character or is over %d runes", s, utf8.RuneCountInString(s), maxSubject)
		}
		if len(p.raw) > 300<<10 {
			t.Errorf("the mail is %d KB: a hostile item made it huge", len(p.raw)>>10)
		}
		doc := parseHTML(t, p.html)
		for _, el := range []string{"script", "img", "iframe", "video", "svg", "math", "style", "form", "input"} {
			if doc.count[el] > 0 {
				t.Errorf("HTML has %d <%s>", doc.count[el], el)
			}
		}
		for _, a := range []string{"onclick", "onerror", "onload", "style", "target", "width", "height"} {
			// Our own template styles elements inline; item content must not.
			if a != "style" && doc.attrs[a] {
				t.Errorf("HTML has a %s attribute", a)
			}
		}
		for _, h := range doc.hrefs {
			if u, err := url.Parse(h); err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "mailto") {
				t.Errorf("HTML links to %q", h)
			}
		}
		if len(doc.srcs) > 0 {
			t.Errorf("HTML loads %v: a mail must load nothing remote", doc.srcs)
		}
		if doc.count["footer"] != 1 || !strings.Contains(doc.text, "Washington, DC 20006") {
			t.Error("the footer is gone: an item's markup broke out of its article")
		}
		if strings.Contains(p.text, "\r\nBcc:") || strings.Contains(p.text, "\u202e") || strings.Contains(p.text, "\x1b") {
			t.Errorf("text part carries a control character or a fake header line")
		}
	}
	m, _ := c.Mail(l, "reader@example.org", Edition{Mode: feed.DigestInstant, Items: hostile[:1]}, t0)
	p := parseMail(t, m)
	doc := parseHTML(t, p.html)
	if !doc.links()["https://tracker.example/pixel.gif?u=1"] || !strings.Contains(doc.text, "[image]") {
		t.Errorf("an image is not replaced by a link to it: %v", doc.hrefs)
	}
	// base_url is http here: no one-click header, as RFC 8058 asks https.
	if v := p.header.Get("List-Unsubscribe-Post"); v != "" {
		t.Errorf("List-Unsubscribe-Post %q with an http base URL", v)
	}
	if u := listUnsubscribe(t, p.header.Get("List-Unsubscribe")); !strings.HasPrefix(u[0], "http://localhost:8080/mail/unsubscribe/") {
		t.Errorf("List-Unsubscribe %v", u)
	}
}

func TestManyItemsAreCapped(t *testing.T) {
	c := testComposer(t, testBase)
	var items []feed.Item
	for i := range maxItems + 25 {
		items = append(items, feed.Item{SourceID: "kei", Key: fmt.Sprint(i), Title: fmt.Sprintf("Item %d", i), Link: fmt.Sprintf("https://keia.org/%d", i), Published: t0})
	}
	m, err := c.Mail(testList, "reader@example.org", Edition{Mode: feed.DigestWeekly, Due: t0, Items: items}, t0)
	if err != nil {
		t.Fatal(err)
	}
	p := parseMail(t, m)
	if got := parseHTML(t, p.html).count["article"]; got != maxItems {
		t.Errorf("%d articles, want %d", got, maxItems)
	}
	if !strings.Contains(p.text, "25 more items on the channel's page: "+testList.PageURL) {
		t.Errorf("the text part does not point to the rest")
	}
	if got := p.subject(t); !strings.HasSuffix(got, fmt.Sprintf("%d new items", maxItems+25)) {
		t.Errorf("subject %q does not count every item", got)
	}
}

func TestMessageIDs(t *testing.T) {
	c := testComposer(t, testBase)
	e := Edition{Mode: feed.DigestDaily, Due: t0, Items: testItems()}
	a, _ := c.Mail(testList, "reader@example.org", e, t0)
	b, _ := c.Mail(testList, "reader@example.org", e, t0.Add(time.Minute))
	if a.ID != b.ID {
		t.Errorf("the same digest composed twice has ids %s and %s: a resend after a crash must keep its id", a.ID, b.ID)
	}
	for name, other := range map[string]func() (*Message, error){
		"another address": func() (*Message, error) { return c.Mail(testList, "other@example.org", e, t0) },
		"another day": func() (*Message, error) {
			return c.Mail(testList, "reader@example.org", Edition{Mode: feed.DigestDaily, Due: t0.AddDate(0, 0, 1), Items: e.Items}, t0)
		},
		"other items": func() (*Message, error) {
			return c.Mail(testList, "reader@example.org", Edition{Mode: feed.DigestDaily, Due: t0, Items: e.Items[:1]}, t0)
		},
	} {
		m, err := other()
		if err != nil {
			t.Fatal(err)
		}
		if m.ID == a.ID {
			t.Errorf("%s: same Message-ID %s", name, m.ID)
		}
	}
}

func TestConfirmation(t *testing.T) {
	c := testComposer(t, testBase)
	m, err := c.Confirmation(testList, "reader@example.org", t0)
	if err != nil {
		t.Fatal(err)
	}
	p := parseMail(t, m)
	for name := range p.header {
		if strings.HasPrefix(name, "List-") || name == "Precedence" {
			t.Errorf("the confirmation carries %s: %q", name, p.header.Get(name))
		}
	}
	if got, want := p.subject(t), "Confirm your subscription to The Peninsula"; got != want {
		t.Errorf("subject %q, want %q", got, want)
	}
	doc := parseHTML(t, p.html)
	var confirm []string
	for _, h := range doc.hrefs {
		if strings.HasPrefix(h, testBase+"/mail/") {
			confirm = append(confirm, h)
		}
	}
	if len(confirm) != 1 || !strings.HasPrefix(confirm[0], testBase+"/mail/confirm/") {
		t.Fatalf("the confirmation's mail links are %v, want one confirm link", confirm)
	}
	if !strings.Contains(p.text, confirm[0]) || strings.Contains(p.text, "/mail/unsubscribe/") || strings.Contains(p.text, "/mail/manage/") {
		t.Errorf("the text part must carry the same one link:\n%s", p.text)
	}
	tok := strings.TrimPrefix(confirm[0], testBase+"/mail/confirm/")
	cl, err := testTokens(t, 1).Open(tok, Confirm, t0.Add(ConfirmTTL-time.Minute))
	if err != nil || cl.Address != "reader@example.org" || cl.Channel != "the-peninsula" {
		t.Errorf("the confirm token opens to %+v, %v", cl, err)
	}
	if !strings.Contains(p.text, "12 March 2026, 16:00 KST") {
		t.Errorf("the text does not say when the link expires (7 days on, Seoul time):\n%s", p.text)
	}
	if !strings.Contains(p.text, "Washington, DC 20006") {
		t.Error("no postal address")
	}
}

func TestComposeRefusesBadRecipients(t *testing.T) {
	c := testComposer(t, testBase)
	for _, to := range []string{"", "Reader <r@example.org>", "r@example.org\r\nBcc: x@example.org", "R@Example.org"} {
		if _, err := c.Mail(testList, to, Edition{Mode: feed.DigestInstant, Items: testItems()}, t0); err == nil {
			t.Errorf("Mail to %q was composed", to)
		}
		if _, err := c.Confirmation(testList, to, t0); err == nil {
			t.Errorf("Confirmation to %q was composed", to)
		}
	}
}

func TestOneLine(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"  a \r\n b\t c  ", 100, "a b c"},
		{"x\u202ey\u200bz\x00", 100, "xyz"},
		{"abcdef", 6, "abcdef"},
		{"abcdefg", 6, "abcde…"},
		{"가나다라마바사", 4, "가나다…"},
		{"ab cd", 3, "ab…"},
		{"bad\xffbyte", 100, "bad\uFFFDbyte"},
	} {
		if got := oneLine(tc.in, tc.max); got != tc.want {
			t.Errorf("oneLine(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}

func FuzzCompose(f *testing.F) {
	f.Add("title\r\nBcc: x@y.z", "<p>summary<script>x</script>", "Author", "Channel")
	f.Add("\u202e", "<img src=https://t/p.gif>", "\x00", "한반도")
	c := testComposer(f, testBase)
	f.Fuzz(func(t *testing.T, title, summary, author, channel string) {
		l := List{ID: "fuzz", Title: channel, PageURL: testBase + "/channels/fuzz", Sources: map[string]string{"s": author}}
		it := feed.Item{SourceID: "s", Key: "k", Title: title, Summary: summary, Authors: []feed.Person{{Name: author}}, Link: "https://example.org/x", Published: t0}
		m, err := c.Mail(l, "reader@example.org", Edition{Mode: feed.DigestInstant, Items: []feed.Item{it}}, t0)
		if err != nil {
			t.Fatal(err)
		}
		p := parseMail(t, m)
		if len(p.header["To"]) != 1 || p.header.Get("Bcc") != "" || p.header.Get("Cc") != "" {
			t.Fatalf("headers changed: %v", p.header)
		}
		doc := parseHTML(t, p.html)
		if doc.count["script"] > 0 || doc.count["img"] > 0 || doc.count["footer"] != 1 {
			t.Fatalf("HTML: %v", doc.count)
		}
	})
}
