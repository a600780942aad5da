package server

import (
	"cmp"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/publish"
	"github.com/kpolicy/aggregator/internal/search"
)

// searchPageSize is the number of results on one search page.
const searchPageSize = 20

// maxSearchOffset bounds paging into a result list.
const maxSearchOffset = 10_000

type searchForm struct {
	Q, Channel, Source, From, To, Sort string
	Page                               int
}

type searchPage struct {
	Form     searchForm
	Total    uint64 // items matching
	Index    uint64 // items in the index
	Results  []searchResult
	Channels []*publish.Channel
	Sources  sourceSelect // the source list's <option>s, rendered once per list
	Prev     string
	Next     string
	First    int // 1-based number of the first result shown
	Searched bool
}

type searchResult struct {
	Ref       string        `json:"id"`
	URL       string        `json:"url"` // the item page
	Link      string        `json:"link,omitempty"`
	Title     string        `json:"title"`
	Source    string        `json:"source"`
	SourceID  string        `json:"source_id"`
	Published time.Time     `json:"published"`
	Language  string        `json:"language,omitempty"` // of the title and snippet (BCP 47)
	Snippet   template.HTML `json:"snippet"`            // HTML: escaped text, matched words in <mark>
	Score     float64       `json:"score"`
}

func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	fail := s.pageError
	if q.Get("format") == "json" {
		fail = s.Error
	}
	if s.Search == nil || s.Items == nil {
		fail(w, r, &unavailable{msg: "search is not available"})
		return
	}
	f := searchForm{
		Q: strings.TrimSpace(q.Get("q")), Channel: q.Get("channel"), Source: q.Get("source"),
		From: q.Get("from"), To: q.Get("to"), Sort: q.Get("sort"), Page: 1,
	}
	query := search.Query{Text: f.Q, Limit: searchPageSize}
	switch f.Sort {
	case "", "relevance":
		f.Sort = "relevance"
	case "newest":
		query.Newest = true
	default:
		fail(w, r, feed.Errorf(feed.EINVALID, "sort must be relevance or newest"))
		return
	}
	if p := q.Get("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || (n-1)*searchPageSize > maxSearchOffset {
			fail(w, r, feed.Errorf(feed.EINVALID, "page must be a whole number from 1 to %d", maxSearchOffset/searchPageSize+1))
			return
		}
		f.Page = n
	}
	query.Offset = (f.Page - 1) * searchPageSize
	var err error
	if query.From, err = parseDay(f.From, false); err != nil {
		fail(w, r, feed.Errorf(feed.EINVALID, "from must be a date, YYYY-MM-DD"))
		return
	}
	if query.To, err = parseDay(f.To, true); err != nil {
		fail(w, r, feed.Errorf(feed.EINVALID, "to must be a date, YYYY-MM-DD"))
		return
	}
	if f.Channel != "" {
		if _, ok := s.feeds.Channel(f.Channel); !ok {
			fail(w, r, feed.Errorf(feed.EINVALID, "no such channel %q", f.Channel))
			return
		}
		query.Channel = f.Channel
		if s.Members != nil {
			query.Channel = s.Members.Label(f.Channel) // channels defined alike share one
		}
	}
	if f.Source != "" {
		query.Sources = []string{f.Source}
	}

	release, err := s.searchSlot(r.Context())
	if err != nil {
		if r.Context().Err() == nil { // else the client left: nobody to answer
			fail(w, r, err)
		}
		return
	}
	defer release()
	v := searchPage{Form: f, Channels: s.feeds.Channels()}
	if v.Index, err = s.Search.Count(); err != nil {
		fail(w, r, err)
		return
	}
	if q.Get("format") != "json" {
		if v.Sources, err = s.srcForm.options(s, f.Source); err != nil {
			fail(w, r, err)
			return
		}
	}
	v.Searched = f.Q != "" || query.Sources != nil || query.Channel != "" || !query.From.IsZero() || !query.To.IsZero()
	if v.Searched {
		res, err := s.Search.Search(r.Context(), query)
		if errors.Is(err, search.ErrBusy) {
			fail(w, r, &unavailable{msg: "search is busy: try again in a moment", retryAfter: 10})
			return
		} else if err != nil {
			fail(w, r, err)
			return
		}
		v.Total, v.First = res.Total, query.Offset+1
		for _, h := range res.Hits {
			src, key, ok := feed.ParseItemRef(h.Ref)
			if !ok {
				continue
			}
			it, err := s.Items.Item(r.Context(), src, key)
			if feed.ErrorCode(err) == feed.ENOTFOUND {
				continue // indexed, then gone from the store
			} else if err != nil {
				fail(w, r, err)
				return
			}
			// The index follows the store a moment behind: what a
			// reload hid is not shown meanwhile.
			if ok, err := s.shown(r.Context(), it, f.Channel); err != nil {
				fail(w, r, err)
				return
			} else if !ok {
				continue
			}
			text := search.Text(it.Summary)
			if text == "" {
				text = search.Text(it.Content)
			}
			v.Results = append(v.Results, searchResult{
				Ref: h.Ref, URL: "/items/" + h.Ref, Link: it.Link, Title: it.Title,
				Source: s.sourceInfo(src).Title, SourceID: src, Published: it.Sort().UTC(), Language: textLang(it.Language),
				Snippet: template.HTML(search.Snippet(text, f.Q, 240)), Score: h.Score,
			})
		}
		if f.Page > 1 {
			v.Prev = f.url(f.Page - 1)
		}
		if uint64(query.Offset+searchPageSize) < res.Total && query.Offset+searchPageSize <= maxSearchOffset {
			v.Next = f.url(f.Page + 1)
		}
	}

	if q.Get("format") == "json" {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		results := v.Results
		if results == nil {
			results = []searchResult{}
		}
		json.NewEncoder(w).Encode(struct {
			Total   uint64         `json:"total"`
			Index   uint64         `json:"index"`
			Page    int            `json:"page"`
			Results []searchResult `json:"results"`
		}{v.Total, v.Index, f.Page, results})
		return
	}
	s.render(w, r, "search.html", v)
}

// searchWait is the longest a search waits for a slot (Server.searching)
// before it is answered 503.
var searchWait = 5 * time.Second

// searchSlot takes one of the slots search pages are built in, one per
// core: the others wait in turn rather than share the cores, which
// stretched every search under load (16 connections on 2 cores: p99
// 79–101 ms without the slots, 57–77 ms with them, 2–13% more searches a
// second; bench/RESULTS.md). The index's own slots (one per core less one)
// bound only its part; a page in one slot reads the store and renders
// while the other is in the index. The index's count for the pages too
// was worse (one slot on 2 cores: 390 searches a second, p99 79–85 ms,
// against 460–515 and 59–66 ms). The slots also bound what searches hold
// in memory whatever the number of clients. A search that waited
// searchWait is a 503 with Retry-After; one whose client left gives up.
func (s *Server) searchSlot(ctx context.Context) (release func(), err error) {
	t := time.NewTimer(searchWait)
	defer t.Stop()
	select {
	case s.searching <- struct{}{}:
		return func() { <-s.searching }, nil
	case <-t.C:
		return nil, &unavailable{msg: "search is busy: try again in a moment", retryAfter: 10}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// url is the search page with this form's fields and another page number.
func (f searchForm) url(page int) string {
	q := url.Values{}
	for k, v := range map[string]string{"q": f.Q, "channel": f.Channel, "source": f.Source, "from": f.From, "to": f.To} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.Sort != "relevance" {
		q.Set("sort", f.Sort)
	}
	if page > 1 {
		q.Set("page", strconv.Itoa(page))
	}
	return "/search?" + q.Encode()
}

// parseDay reads YYYY-MM-DD as the start of that day (UTC), or its last
// instant when end is set; "" is the zero time.
func parseDay(s string, end bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return t, err
	}
	if end {
		t = t.Add(24*time.Hour - time.Nanosecond)
	}
	return t, nil
}

// shown reports whether a channel shows the item: channel, or any when "".
func (s *Server) shown(ctx context.Context, it feed.Item, channel string) (bool, error) {
	if s.Members == nil {
		return false, nil
	}
	ids, err := s.Members.ChannelsOf(ctx, it)
	if err != nil {
		return false, err
	}
	return len(ids) > 0 && (channel == "" || slices.Contains(ids, channel)), nil
}

// sourceOption is one source the search form offers.
type sourceOption struct {
	ID, Label string
}

// sourceOptions lists the sources the search form offers: those with an
// item in the index (ids) (a source that is empty, failing or publishes nothing
// would find nothing), and the one the form has selected, each once, by
// title; sources that share a title are told apart by their id
// ("research!rsc (rsc-blog)").
func (s *Server) sourceOptions(ids []string, selected string) []sourceOption {
	if selected != "" && !slices.Contains(ids, selected) && s.configured(selected) {
		ids = append(ids, selected)
	}
	// Each title is lower-cased once and the sort moves indexes: at 1,000
	// sources a ToLower at every comparison was a fifth of a search's CPU
	// (issue 17, BenchmarkAllSources).
	infos := make([]publish.SourceInfo, len(ids))
	keys := make([]string, len(ids))
	titles := map[string]int{}
	order := make([]int, len(ids))
	cs := s.feeds.Channels() // once: every channel names every source alike
	for i, id := range ids {
		infos[i] = publish.SourceInfo{ID: id, Title: id}
		if len(cs) > 0 {
			infos[i] = cs[0].Source(id)
		}
		keys[i] = strings.ToLower(infos[i].Title)
		titles[keys[i]]++
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		return cmp.Or(strings.Compare(keys[a], keys[b]), strings.Compare(infos[a].ID, infos[b].ID))
	})
	out := make([]sourceOption, len(order))
	for i, j := range order {
		out[i] = sourceOption{ID: infos[j].ID, Label: infos[j].Title}
		if titles[keys[j]] > 1 {
			out[i].Label += " (" + infos[j].ID + ")"
		}
	}
	return out
}

// sourceSelect is the search form's source <option>s as HTML, cut where
// the selected one's tag takes " selected" (Selected; After empty when no
// option is selected).
type sourceSelect struct {
	Before, After template.HTML
	Selected      bool
}

// sourceForm keeps the source list's <option>s rendered: at 1,000 sources
// the template spent a fifth of a search's CPU writing them per request
// (issue 17). They are rendered again when the configuration (the
// channels, which name the sources) or the index's sources change.
type sourceForm struct {
	mu       sync.Mutex
	channels []*publish.Channel
	ids      []string
	html     string
	at       map[string]int // where each option's tag ends (its '>')
}

// options returns the form's source list with selected marked.
func (c *sourceForm) options(s *Server, selected string) (sourceSelect, error) {
	ids, err := s.Search.Sources()
	if err != nil {
		return sourceSelect{}, err
	}
	if selected != "" && !slices.Contains(ids, selected) {
		// Offered only because it is selected (sourceOptions): rare, so
		// not kept.
		html, at := renderOptions(s.sourceOptions(ids, selected))
		return cutOptions(html, at, selected), nil
	}
	cs := s.feeds.Channels()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.at == nil || !slices.Equal(c.channels, cs) || !slices.Equal(c.ids, ids) {
		c.html, c.at = renderOptions(s.sourceOptions(ids, ""))
		c.channels, c.ids = cs, ids
	}
	return cutOptions(c.html, c.at, selected), nil
}

// renderOptions writes opts as <option> elements and says where each one's
// start tag ends.
func renderOptions(opts []sourceOption) (string, map[string]int) {
	var b strings.Builder
	at := make(map[string]int, len(opts))
	for _, o := range opts {
		b.WriteString(`<option value="`)
		b.WriteString(template.HTMLEscapeString(o.ID))
		b.WriteString(`"`)
		at[o.ID] = b.Len()
		b.WriteString(`>`)
		b.WriteString(template.HTMLEscapeString(o.Label))
		b.WriteString(`</option>`)
	}
	return b.String(), at
}

func cutOptions(html string, at map[string]int, selected string) sourceSelect {
	if i, ok := at[selected]; ok && selected != "" {
		return sourceSelect{Before: template.HTML(html[:i]), After: template.HTML(html[i:]), Selected: true}
	}
	return sourceSelect{Before: template.HTML(html)}
}

// configured reports whether a channel selects source id.
func (s *Server) configured(id string) bool {
	for _, c := range s.feeds.Channels() {
		if c.Selects(id) {
			return true
		}
	}
	return false
}

// openSearch is the OpenSearch 1.1 description document.
type openSearch struct {
	XMLName     xml.Name        `xml:"http://a9.com/-/spec/opensearch/1.1/ OpenSearchDescription"`
	ShortName   string          `xml:"ShortName"`
	Description string          `xml:"Description"`
	Language    string          `xml:"Language"`
	Encoding    string          `xml:"InputEncoding"`
	URLs        []openSearchURL `xml:"Url"`
}

type openSearchURL struct {
	Type     string `xml:"type,attr"`
	Method   string `xml:"method,attr"`
	Template string `xml:"template,attr"`
}

// OpenSearch's limits on ShortName and Description, in characters.
const (
	maxShortName   = 16
	maxDescription = 1024
)

// handleOpenSearch serves the OpenSearch 1.1 description document that
// lets a browser add the site's search, named after the site.
func (s *Server) handleOpenSearch(w http.ResponseWriter, r *http.Request) {
	base := s.publicBase(r)
	site := s.site()
	desc := site.Description
	if desc == "" {
		desc = "Search " + site.Title
	}
	doc := openSearch{
		ShortName: shortName(site.Title, maxShortName), Description: cut(desc, maxDescription),
		Language: site.Language, Encoding: "UTF-8",
		URLs: []openSearchURL{
			{Type: "text/html", Method: "get", Template: base + "/search?q={searchTerms}&page={startPage?}"},
			{Type: "application/json", Method: "get", Template: base + "/search?q={searchTerms}&page={startPage?}&format=json"},
		},
	}
	body, err := xml.MarshalIndent(doc, "", "")
	if err != nil {
		s.Error(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/opensearchdescription+xml; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=86400")
	w.Write([]byte(xml.Header))
	w.Write(body)
	w.Write([]byte("\n"))
}

// publicBase is the site's public address: the configured one, else the
// one the request reached.
func (s *Server) publicBase(r *http.Request) string {
	if base := strings.TrimRight(s.BaseURL, "/"); base != "" {
		return base
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// shortName cuts title to at most n characters at a word boundary, or
// within its first word when that alone is longer.
func shortName(title string, n int) string {
	if utf8.RuneCountInString(title) <= n {
		return title
	}
	out := ""
	for _, w := range strings.Fields(title) {
		next := w
		if out != "" {
			next = out + " " + w
		}
		if utf8.RuneCountInString(next) > n {
			break
		}
		out = next
	}
	if out == "" {
		out = cut(title, n)
	}
	return out
}

// cut returns s cut to at most n characters.
func cut(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}
