package app

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/kpolicy/aggregator/internal/app/apptest"
)

// xssVectors reads testdata/xss-vectors.txt: one vector a line, with \t, \n
// and \0 standing for those characters.
func xssVectors(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile("testdata/xss-vectors.txt")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(raw), "\n") {
		if line == "" || strings.HasPrefix(line, "# ") {
			continue
		}
		out = append(out, strings.NewReplacer(`\t`, "\t", `\n`, "\n", `\0`, "\x00").Replace(line))
	}
	return out
}

// hostileURLs are put where feeds give URLs: item links, enclosures, author
// URIs, JSON Feed images.
var hostileURLs = []string{
	"javascript:alert(1)", " JaVaScRiPt:alert(1)", "java\tscript:alert(1)", "vbscript:msgbox(1)",
	"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", "data:image/svg+xml,<svg onload=alert(1)>",
	"&#106;avascript:alert(1)", "javascript&colon;alert(1)",
}

func xmlText(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(strings.ReplaceAll(s, "\x00", "")))
	return b.String()
}

// hostileRSS, hostileAtom and hostileJSON put vector i into every field of
// item i.
func hostileRSS(vs []string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>` +
		xmlText(vs[0]) + `</title><link>http://origin.example/</link><description>` + xmlText(vs[1]) + "</description>\n")
	for i, v := range vs {
		u := hostileURLs[i%len(hostileURLs)]
		fmt.Fprintf(&b, `<item><title>%s</title><link>%s</link><guid isPermaLink="false">rss-%d</guid><description>%s</description><content:encoded>%s</content:encoded><author>x@example.org (%s)</author><dc:creator>%s</dc:creator><category domain="%s">%s</category><enclosure url="%s" type="%s" length="1"/><pubDate>Mon, 02 Jun 2025 10:%02d:00 GMT</pubDate></item>`+"\n",
			xmlText(v), xmlText(u), i, xmlText(v), xmlText(v), xmlText(v), xmlText(v), xmlText(u), xmlText(v), xmlText(u), xmlText(v), i%60)
	}
	b.WriteString("</channel></rss>\n")
	return b.String()
}

func hostileAtom(vs []string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom"><id>urn:x:hostile</id><title type="html">` +
		xmlText(vs[2]) + `</title><updated>2025-06-02T10:00:00Z</updated>` + "\n")
	for i, v := range vs {
		u := hostileURLs[i%len(hostileURLs)]
		fmt.Fprintf(&b, `<entry><id>urn:x:atom-%d</id><title type="html">%s</title><link href="%s"/><link rel="enclosure" href="%s" type="%s"/><updated>2025-06-02T11:%02d:00Z</updated><author><name>%s</name><uri>%s</uri></author><category term="%s" label="%s" scheme="%s"/><summary type="html">%s</summary><content type="html">%s</content></entry>`+"\n",
			i, xmlText(v), xmlText(u), xmlText(u), xmlText(v), i%60, xmlText(v), xmlText(u), xmlText(v), xmlText(v), xmlText(u), xmlText(v), xmlText(v))
	}
	b.WriteString("</feed>\n")
	return b.String()
}

func hostileJSON(t *testing.T, vs []string) string {
	type author struct {
		Name string `json:"name"`
		URL  string `json:"url"`
	}
	type attachment struct {
		URL      string `json:"url"`
		MIMEType string `json:"mime_type"`
	}
	type item struct {
		ID          string       `json:"id"`
		URL         string       `json:"url"`
		ExternalURL string       `json:"external_url"`
		Title       string       `json:"title"`
		ContentHTML string       `json:"content_html"`
		Summary     string       `json:"summary"`
		Image       string       `json:"image"`
		Date        string       `json:"date_published"`
		Authors     []author     `json:"authors"`
		Tags        []string     `json:"tags"`
		Attachments []attachment `json:"attachments"`
	}
	doc := struct {
		Version string `json:"version"`
		Title   string `json:"title"`
		Items   []item `json:"items"`
	}{Version: "https://jsonfeed.org/version/1.1", Title: vs[3]}
	for i, v := range vs {
		u := hostileURLs[i%len(hostileURLs)]
		doc.Items = append(doc.Items, item{ID: fmt.Sprintf("json-%d", i), URL: u, ExternalURL: u, Title: v, ContentHTML: v, Summary: v, Image: u,
			Date: fmt.Sprintf("2025-06-02T12:%02d:00Z", i%60), Authors: []author{{Name: v, URL: u}}, Tags: []string{v, u},
			Attachments: []attachment{{URL: u, MIMEType: v}}})
	}
	out, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// TestHostileContent sends the XSS vectors through ingest in RSS, Atom and
// JSON Feed, then reads every published format and every HTML page with real
// parsers: no script element, no event handler attribute, no script URL (in
// any spelling a browser would still run), no style that runs script, and
// titles that stay text.
func TestHostileContent(t *testing.T) {
	vs := xssVectors(t)
	docs := map[string]struct{ ctype, body string }{
		"/hostile.rss":  {"application/rss+xml", hostileRSS(vs)},
		"/hostile.atom": {"application/atom+xml", hostileAtom(vs)},
		"/hostile.json": {"application/feed+json", hostileJSON(t, vs)},
	}
	originURL := apptest.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, ok := docs[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", d.ctype)
		w.Write([]byte(d.body))
	}))
	cfg := fmt.Sprintf(`server: { base_url: "http://aggregator.test" }
storage: { path: %q }
fetch: { interval: 1h, allow_private_networks: true, contact: ops@example.org }
# The three sources carry the same vectors as titles: keep every copy, so
# that each one goes through every output (merging is tested elsewhere).
dedupe: { title_window: 0s }
sources:
  - { id: rss, url: %q }
  - { id: atom, url: %q }
  - { id: json, url: %q }
channels:
  - { id: hostile, title: "Hostile <b>channel</b>", description: "<script>alert(1)</script>", sources: [rss, atom, json], limit: 1000 }
`, filepath.Join(t.TempDir(), "db"), originURL+"/hostile.rss", originURL+"/hostile.atom", originURL+"/hostile.json")
	base := startApp(t, writeFile(t, cfg)).base
	apptest.WaitForItems(t, base, "hostile", 3*len(vs))

	var checked int
	t.Run("json", func(t *testing.T) {
		_, body := apptest.Get(t, base+"/feeds/hostile.json")
		var doc struct {
			Items []struct {
				ID, URL, ExternalURL, Title, ContentHTML, ContentText, Summary, Image, BannerImage string
				Authors                                                                            []struct{ Name, URL, Avatar string }
				Tags                                                                               []string
				Attachments                                                                        []struct{ URL string }
			}
		}
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatal(err)
		}
		if got, want := len(doc.Items), 3*len(vs); got != want {
			t.Errorf("items=%d, want %d: every hostile item is stored", got, want)
		}
		for _, it := range doc.Items {
			where := "json " + it.ID
			checkHTML(t, where+" content_html", it.ContentHTML)
			// summary and content_text are plain text in JSON Feed 1.1.
			urls := []string{it.URL, it.ExternalURL, it.Image, it.BannerImage}
			for _, a := range it.Authors {
				urls = append(urls, a.URL, a.Avatar)
			}
			for _, a := range it.Attachments {
				urls = append(urls, a.URL)
			}
			for _, u := range urls {
				checkURL(t, where, u)
			}
			checked++
		}
	})
	t.Run("atom", func(t *testing.T) {
		_, body := apptest.Get(t, base+"/feeds/hostile.atom")
		var doc struct {
			Entries []struct {
				ID    string `xml:"id"`
				Title struct {
					Type string `xml:"type,attr"`
					Text string `xml:",chardata"`
				} `xml:"title"`
				Links []struct {
					Href string `xml:"href,attr"`
				} `xml:"link"`
				Summary atomText `xml:"summary"`
				Content atomText `xml:"content"`
				Authors []struct {
					URI string `xml:"uri"`
				} `xml:"author"`
				Source struct {
					Links []struct {
						Href string `xml:"href,attr"`
					} `xml:"link"`
				} `xml:"source"`
			} `xml:"entry"`
		}
		if err := xml.Unmarshal(body, &doc); err != nil {
			t.Fatal(err)
		}
		for _, e := range doc.Entries {
			where := "atom " + e.ID
			if e.Title.Type != "" && e.Title.Type != "text" {
				t.Errorf("%s: title type=%q: titles are text", where, e.Title.Type)
			}
			for _, f := range []atomText{e.Summary, e.Content} {
				switch f.Type {
				case "html":
					checkHTML(t, where, f.Text)
				case "", "text":
				default:
					t.Errorf("%s: text construct of type %q", where, f.Type)
				}
			}
			for _, l := range append(e.Links, e.Source.Links...) {
				checkURL(t, where, l.Href)
			}
			for _, a := range e.Authors {
				checkURL(t, where, a.URI)
			}
			checked++
		}
	})
	t.Run("rss", func(t *testing.T) {
		_, body := apptest.Get(t, base+"/feeds/hostile.rss")
		var doc struct {
			Items []struct {
				GUID        string `xml:"guid"`
				Link        string `xml:"link"`
				Description string `xml:"description"`
				Content     string `xml:"http://purl.org/rss/1.0/modules/content/ encoded"`
				Enclosure   struct {
					URL string `xml:"url,attr"`
				} `xml:"enclosure"`
				Source struct {
					URL string `xml:"url,attr"`
				} `xml:"source"`
			} `xml:"channel>item"`
		}
		if err := xml.Unmarshal(body, &doc); err != nil {
			t.Fatal(err)
		}
		for _, it := range doc.Items {
			where := "rss " + it.GUID
			checkHTML(t, where+" description", it.Description)
			checkHTML(t, where+" content:encoded", it.Content)
			for _, u := range []string{it.Link, it.Enclosure.URL, it.Source.URL} {
				checkURL(t, where, u)
			}
			checked++
		}
	})
	t.Run("pages", func(t *testing.T) {
		for _, page := range []string{"/", "/channels/hostile"} {
			_, body := apptest.Get(t, base+page)
			checkHTML(t, "page "+page, string(body))
			checked++
		}
	})
	t.Run("titles are text", func(t *testing.T) {
		// The JSON Feed's titles are plain text by definition: each vector
		// must come out as exactly that text, in every format.
		want := map[string]bool{}
		for _, v := range vs {
			if s := strings.Join(strings.Fields(strings.ReplaceAll(v, "\x00", "")), " "); s != "" {
				want[s] = true
			}
		}
		const bold = "<b>bold</b> & <i>co</i>"
		if !want[bold] {
			t.Fatalf("the vectors lack %q", bold)
		}
		titles := map[string]map[string]bool{"json": {}, "atom": {}, "rss": {}}
		_, body := apptest.Get(t, base+"/feeds/hostile.json")
		var jd struct{ Items []struct{ Title string } }
		json.Unmarshal(body, &jd)
		for _, it := range jd.Items {
			titles["json"][it.Title] = true
		}
		_, body = apptest.Get(t, base+"/feeds/hostile.atom")
		var ad struct {
			Entries []struct {
				Title string `xml:"title"`
			} `xml:"entry"`
		}
		xml.Unmarshal(body, &ad)
		for _, e := range ad.Entries {
			titles["atom"][e.Title] = true
		}
		_, body = apptest.Get(t, base+"/feeds/hostile.rss")
		var rd struct {
			Items []struct {
				Title string `xml:"title"`
			} `xml:"channel>item"`
		}
		xml.Unmarshal(body, &rd)
		for _, it := range rd.Items {
			titles["rss"][it.Title] = true
		}
		for format, got := range titles {
			if !got[bold] {
				t.Errorf("%s: no title reads %q", format, bold)
			}
		}
		// On the channel's pages, headings hold text and at most a link.
		found := false
		for page := 1; page <= 50 && !found; page++ {
			_, body = apptest.Get(t, fmt.Sprintf("%s/channels/hostile?page=%d", base, page))
			doc, err := html.Parse(bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			headings := 0
			for n := range doc.Descendants() {
				if n.Type != html.ElementNode || n.DataAtom != atom.H3 {
					continue
				}
				headings++
				for d := range n.Descendants() {
					if d.Type == html.ElementNode && d.DataAtom != atom.A {
						t.Errorf("a heading holds a <%s> element", d.Data)
					}
				}
				if textOf(n) == bold {
					found = true
				}
			}
			if headings == 0 {
				break
			}
		}
		if !found {
			t.Errorf("no heading of the channel page reads %q", bold)
		}
	})
	t.Logf("%d vectors × 3 formats; %d entries and pages checked", len(vs), checked)
}

type atomText struct {
	Type string `xml:"type,attr"`
	Text string `xml:",chardata"`
}

func textOf(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return b.String()
}

// urlAttrs are the attributes whose value a browser may load or follow.
var urlAttrs = map[string]bool{
	"href": true, "src": true, "action": true, "formaction": true, "background": true, "poster": true,
	"cite": true, "data": true, "lowsrc": true, "dynsrc": true, "longdesc": true, "usemap": true,
	"codebase": true, "profile": true, "icon": true, "manifest": true, "srcset": true, "xlink:href": true,
	"srcdoc": true, "archive": true, "classid": true,
}

// dangerousElements run script or change where the page's URLs point.
var dangerousElements = map[string]bool{
	"script": true, "iframe": true, "frame": true, "frameset": true, "object": true, "embed": true,
	"applet": true, "base": true, "meta": false, "link": false, "form": true, "svg": true, "math": true,
}

// ownSearchForm reports whether n is the site's own search form (a GET to
// /search outside any item), the one form a page may carry.
func ownSearchForm(n *html.Node) bool {
	var action, method string
	for _, a := range n.Attr {
		switch strings.ToLower(a.Key) {
		case "action":
			action = a.Val
		case "method":
			method = strings.ToLower(a.Val)
		}
	}
	for p := n.Parent; p != nil; p = p.Parent {
		if p.DataAtom == atom.Article {
			return false
		}
	}
	return action == "/search" && (method == "" || method == "get")
}

// checkHTML parses s as a browser would (as a document, or a fragment of
// one) and reports anything in it that can run script.
func checkHTML(t *testing.T, where, s string) {
	t.Helper()
	if s == "" {
		return
	}
	doc, err := html.Parse(strings.NewReader(s))
	if err != nil {
		t.Errorf("%s: %v", where, err)
		return
	}
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		name := strings.ToLower(n.Data)
		if name == "form" && ownSearchForm(n) {
			continue
		}
		if dangerousElements[name] || (n.Namespace != "" && n.Namespace != "html") {
			t.Errorf("%s: <%s> element (namespace %q) in %.300q", where, name, n.Namespace, s)
		}
		if name == "style" {
			checkStyle(t, where, textOf(n))
		}
		for _, a := range n.Attr {
			key := strings.ToLower(a.Key)
			if a.Namespace != "" {
				key = a.Namespace + ":" + key
			}
			switch {
			case strings.HasPrefix(key, "on"):
				t.Errorf("%s: event handler %s=%q on <%s>", where, key, a.Val, name)
			case key == "style":
				checkStyle(t, where, a.Val)
			case name == "meta" && key == "http-equiv":
				t.Errorf("%s: <meta http-equiv=%q> in item HTML", where, a.Val)
			case urlAttrs[key]:
				for _, u := range strings.Split(a.Val, ",") {
					checkURL(t, where+" <"+name+" "+key+">", strings.TrimSpace(u))
				}
			}
		}
	}
}

var scriptStyle = regexp.MustCompile(`(?i)expression\s*\(|javascript:|vbscript:|behavior\s*:|-moz-binding|@import`)

func checkStyle(t *testing.T, where, css string) {
	t.Helper()
	if scriptStyle.MatchString(strings.Map(dropInvisible, html.UnescapeString(css))) {
		t.Errorf("%s: style that runs script: %q", where, css)
	}
}

// dropInvisible removes what browsers ignore inside a URL's scheme: ASCII
// tab, line breaks and other control characters, and spaces.
func dropInvisible(r rune) rune {
	if r <= ' ' || r == 0x7f {
		return -1
	}
	return r
}

// checkURL reports a URL that runs script when followed or loaded,
// however it is spelt: entity-encoded (decoded again in case an output
// escaped it once more), with invisible characters or odd case.
func checkURL(t *testing.T, where, u string) {
	t.Helper()
	norm := strings.ToLower(strings.Map(dropInvisible, html.UnescapeString(html.UnescapeString(u))))
	for _, bad := range []string{"javascript:", "vbscript:", "livescript:", "data:text/html", "data:image/svg", "data:application"} {
		if strings.HasPrefix(norm, bad) {
			t.Errorf("%s: script URL %q", where, u)
			return
		}
	}
}
