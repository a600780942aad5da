// Package parse turns the bytes of a fetched feed document (RSS 0.9x/1.0/2.0,
// Atom 0.3/1.0, JSON Feed), or of a web page read with a source's scrape
// selectors (internal/scrape), into a feed.Parsed: text decoded to UTF-8
// whatever the charset, every item normalised (identity by the source's
// policy, canonical absolute links, plain-text title, sanitised HTML, UTC
// dates) and duplicates within the document dropped.
//
// It owns charset detection, feed type detection, the use of gofeed and the
// HTML sanitising policy. It does no I/O: no HTTP, no storage, no clock.
package parse

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/microcosm-cc/bluemonday"
	"github.com/mmcdole/gofeed"
	"github.com/mmcdole/gofeed/atom"
	gfjson "github.com/mmcdole/gofeed/json"
	"github.com/mmcdole/gofeed/rss"
)

// ErrNotFeed is wrapped by the error Parse returns when the document is not
// a feed at all (an HTML page, an empty body, other JSON), as opposed to a
// feed that is broken. Callers branch on it with errors.Is.
var ErrNotFeed = errors.New("not a feed")

// NotFeedError says why a document is not a feed. It matches ErrNotFeed.
type NotFeedError struct {
	Reason string // "HTML page", "empty body", "JSON that is not JSON Feed", ...
	// FeedLinks are the absolute URLs of the feeds an HTML page announces
	// with <link rel="alternate">, best first (see RankFeeds); nil for
	// anything else.
	FeedLinks []string
}

// reasonHTML is the Reason of an HTML page.
const reasonHTML = "HTML page"

func (e *NotFeedError) Error() string {
	s := "not a feed: " + e.Reason
	switch {
	case len(e.FeedLinks) > 0:
		s += " (it links to feeds: " + strings.Join(e.FeedLinks, ", ") + ")"
	case e.Reason == reasonHTML:
		s += " announces no feed"
	}
	return s
}

// AnnouncedFeed is the feed to follow from an HTML page: the best of
// FeedLinks, or "" when the document is not an HTML page announcing one.
// The poller follows it (internal/fetch's announcer).
func (e *NotFeedError) AnnouncedFeed() string {
	if e.Reason != reasonHTML || len(e.FeedLinks) == 0 {
		return ""
	}
	return e.FeedLinks[0]
}

// Is makes errors.Is(err, ErrNotFeed) true.
func (e *NotFeedError) Is(target error) bool { return target == ErrNotFeed }

// Parser parses feed documents. Its zero value is not usable; call New. A
// Parser holds no per-call state and is safe for concurrent use.
type Parser struct {
	policy *bluemonday.Policy
	rss    *rss.Parser
	atom   *atom.Parser
	json   *gfjson.Parser
	rssT   *gofeed.DefaultRSSTranslator
	atomT  *gofeed.DefaultAtomTranslator
	jsonT  *gofeed.DefaultJSONTranslator
	budget *budget
}

// New returns a Parser. The sanitising policy is built here, once.
func New() *Parser {
	return &Parser{
		policy: newPolicy(),
		rss:    &rss.Parser{},
		atom:   &atom.Parser{},
		json:   &gfjson.Parser{},
		// We never use gofeed's item image, and its fallback scan parses
		// every item's HTML once more.
		rssT:   &gofeed.DefaultRSSTranslator{DisableContentImageScan: true},
		atomT:  &gofeed.DefaultAtomTranslator{},
		jsonT:  &gofeed.DefaultJSONTranslator{},
		budget: newBudget(DefaultMemoryBudget),
	}
}

// Parse decodes body, fetched from feedURL with the HTTP Content-Type
// contentType (may be ""), and returns the feed and its items for sourceID.
// Items carry SourceID, Key and the feed's dates; FirstSeen is left zero.
//
// The error wraps ErrNotFeed (as a *NotFeedError) when body is not a feed,
// and is "parse rss: ...", "parse atom: ..." or "parse json: ..." when it is
// a feed its parser cannot read; it wraps ErrTooComplex when the document
// is refused unread for its structure (see MaxDepth and MaxElements).
func (p *Parser) Parse(body []byte, contentType, feedURL, sourceID string) (feed.Parsed, error) {
	return p.ParseSourceContext(context.Background(), body, contentType, feedURL, feed.Source{ID: sourceID})
}

// ParseSource is Parse for the source src: items carry src.ID and are keyed
// by src.Identity (see identity.go); Parsed.Warning says when the auto
// policy found a GUID repeated across different items and identified the
// document's items by link instead.
//
// A source with scrape settings (src.Scrape) is an HTML page, not a feed:
// its items are read with its selectors (see scrape.go), and the error is
// "scrape ID: …" when they find nothing.
func (p *Parser) ParseSource(body []byte, contentType, feedURL string, src feed.Source) (feed.Parsed, error) {
	return p.ParseSourceContext(context.Background(), body, contentType, feedURL, src)
}

// ParseSourceContext is ParseSource bounded by ctx: once ctx is done the
// parse stops at its next read of the document or its next item and returns
// an error wrapping ctx's. A parse also waits (within ctx) while the parses
// in flight on p hold DefaultMemoryBudget, by estimate.
func (p *Parser) ParseSourceContext(ctx context.Context, body []byte, contentType, feedURL string, src feed.Source) (feed.Parsed, error) {
	if src.Scrape != nil {
		return p.parseScrape(body, contentType, feedURL, src)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return feed.Parsed{}, &NotFeedError{Reason: "empty body"}
	}
	text, enc := transcode(body, contentType)
	if !strings.HasPrefix(enc, "utf-16") && !strings.HasPrefix(enc, "utf-32") && looksWide(body) {
		return feed.Parsed{}, errors.New("parse: the body looks like UTF-16 or UTF-32 (many NUL bytes) without a byte order mark or a leading '<' to tell which: refusing to read it as UTF-8")
	}
	text = bytes.TrimLeft(text, " \t\r\n")
	if len(text) == 0 {
		return feed.Parsed{}, &NotFeedError{Reason: "empty body"}
	}
	base, err := url.Parse(strings.TrimSpace(feedURL))
	if err != nil || !base.IsAbs() {
		base = nil
	}

	// Nothing reaches gofeed, nor a JSON decoder, before its structure is
	// checked.
	var elements int
	if text[0] == '{' {
		if elements, err = checkJSON(text); err != nil {
			return feed.Parsed{}, fmt.Errorf("parse json: %w", err)
		}
	}
	kind, text, err := detect(text, base)
	if err != nil {
		return feed.Parsed{}, err
	}
	if kind != "json" {
		text = fixXMLBase(text)
		if elements, err = checkXML(ctx, text); err != nil {
			return feed.Parsed{}, fmt.Errorf("parse %s: %w", kind, err)
		}
	}
	release, err := p.budget.acquire(ctx, len(text), elements)
	if err != nil {
		return feed.Parsed{}, fmt.Errorf("parse %s: %w", kind, err)
	}
	defer release()

	var out feed.Parsed
	switch kind {
	case "rss":
		out, err = p.parseRSS(ctx, text, base, src)
	case "atom":
		out, err = p.parseAtom(ctx, text, base, src)
	default:
		out, err = p.parseJSON(ctx, text, base, src)
	}
	if cerr := ctx.Err(); cerr != nil {
		// Whatever gofeed made of a read that failed, say why it failed.
		return feed.Parsed{}, fmt.Errorf("parse %s: %w", kind, cerr)
	}
	return out, err
}

func (p *Parser) parseRSS(ctx context.Context, text []byte, base *url.URL, src feed.Source) (feed.Parsed, error) {
	rf, err := p.rss.Parse(newBudgetReader(ctx, text))
	if err != nil {
		return feed.Parsed{}, fmt.Errorf("parse rss: %w", err)
	}
	uf, err := p.rssT.Translate(rf)
	if err != nil {
		return feed.Parsed{}, fmt.Errorf("parse rss: %w", err)
	}
	out := p.feedLevel(uf, base, "rss", false)
	hubLinks(&out, rssLinks(rf.Extensions), base)
	if ttl, err := strconv.Atoi(strings.TrimSpace(rf.TTL)); err == nil && ttl > 0 {
		out.TTL = ttl
	}
	out.Items, out.Warning = p.items(ctx, rssEntries(rf, uf), base, out.Language, src)
	return out, nil
}

func (p *Parser) parseAtom(ctx context.Context, text []byte, base *url.URL, src feed.Source) (feed.Parsed, error) {
	af, err := p.atom.Parse(newBudgetReader(ctx, text))
	if err != nil {
		return feed.Parsed{}, fmt.Errorf("parse atom: %w", err)
	}
	uf, err := p.atomT.Translate(af)
	if err != nil {
		return feed.Parsed{}, fmt.Errorf("parse atom: %w", err)
	}
	out := p.feedLevel(uf, base, "atom", false)
	hubLinks(&out, atomLinks(af), base)
	out.Items, out.Warning = p.items(ctx, atomEntries(af, uf), base, out.Language, src)
	return out, nil
}

func (p *Parser) parseJSON(ctx context.Context, text []byte, base *url.URL, src feed.Source) (feed.Parsed, error) {
	jf, err := p.json.Parse(bytes.NewReader(text))
	if err != nil {
		fixed, ok := repairJSONFeed(text)
		if !ok {
			return feed.Parsed{}, fmt.Errorf("parse json: %w", err)
		}
		if jf, err = p.json.Parse(bytes.NewReader(fixed)); err != nil {
			return feed.Parsed{}, fmt.Errorf("parse json: %w", err)
		}
	}
	uf, err := p.jsonT.Translate(jf)
	if err != nil {
		return feed.Parsed{}, fmt.Errorf("parse json: %w", err)
	}
	out := p.feedLevel(uf, base, "json", true)
	out.Items, out.Warning = p.items(ctx, jsonEntries(jf, uf), base, out.Language, src)
	return out, nil
}

func (p *Parser) feedLevel(uf *gofeed.Feed, base *url.URL, kind string, plainTitle bool) feed.Parsed {
	out := feed.Parsed{
		Title:    plainText(uf.Title),
		Link:     absLink(base, uf.Link),
		Language: strings.TrimSpace(uf.Language),
		Type:     kind,
	}
	if plainTitle {
		out.Title = jsonTitle(uf.Title)
	}
	return out
}

// items normalises the entries that say anything, keys them by src's
// identity policy, and keeps the first of any that share a key. The warning
// is keyEntries'. It stops early when ctx is done (the caller reports it).
func (p *Parser) items(ctx context.Context, es []entry, base *url.URL, lang string, src feed.Source) ([]feed.Item, string) {
	kept := make([]entry, 0, len(es))
	parts := make([]idParts, 0, len(es))
	for _, e := range es {
		if ip, keep := identityParts(e.u, base, e.plainTitle); keep {
			kept = append(kept, e)
			parts = append(parts, ip)
		}
	}
	keys, warning := keyEntries(parts, src.Identity)
	out := make([]feed.Item, 0, len(kept))
	seen := make(map[string]bool, len(kept))
	for i, e := range kept {
		if ctx.Err() != nil {
			break
		}
		if seen[keys[i]] {
			continue
		}
		seen[keys[i]] = true
		out = append(out, p.normalise(e, base, lang, src.ID, keys[i]))
		if len(out) == MaxItemsPerFeed {
			break
		}
	}
	return out, warning
}

// detect tells the feed type of text (UTF-8, leading space trimmed) from its
// first element or JSON object: "rss" (RSS 0.9x/2.0 and RSS 1.0's rdf:RDF),
// "atom" or "json". Unlike gofeed it reads as far as it takes, so a long
// comment or doctype before the root does not matter. When the root is a
// stray element ahead of a feed (a PHP warning printed before the
// document), it returns text from the feed's root on.
func detect(text []byte, base *url.URL) (string, []byte, error) {
	switch text[0] {
	case '{':
		if !json.Valid(text) {
			return "", nil, fmt.Errorf("parse json: %w", jsonSyntaxError(text))
		}
		if !isJSONFeed(text) {
			return "", nil, &NotFeedError{Reason: "JSON that is not JSON Feed"}
		}
		return "json", text, nil
	case '[':
		if json.Valid(text) {
			return "", nil, &NotFeedError{Reason: "JSON that is not JSON Feed"}
		}
	case '<':
		root, err := rootElement(text)
		switch root {
		case "rss", "rdf":
			return "rss", text, nil
		case "feed":
			return "atom", text, nil
		}
		// A feed behind a stray element (a PHP warning printed first) or
		// wrapped in an XHTML page (a browser's "save as"): read it from
		// its own root.
		if i := feedRootIndex(text); i > 0 {
			return detect(text[i:], base)
		}
		switch root {
		case "html", "head", "body", "meta", "title", "link", "script", "div":
			return "", nil, htmlPage(text, base)
		}
		if looksLikeHTML(text) {
			return "", nil, htmlPage(text, base)
		}
		if err != nil {
			return "", nil, &NotFeedError{Reason: "malformed XML: " + err.Error()}
		}
		return "", nil, &NotFeedError{Reason: fmt.Sprintf("XML with root element <%s>", root)}
	}
	if looksLikeHTML(text) {
		return "", nil, htmlPage(text, base)
	}
	return "", nil, &NotFeedError{Reason: "unrecognised content"}
}

func jsonSyntaxError(text []byte) error {
	var v any
	if err := json.Unmarshal(text, &v); err != nil {
		return err
	}
	return errors.New("invalid JSON")
}

// isJSONFeed reports whether a JSON object is a JSON Feed: a version that
// names jsonfeed.org, or failing that an items array. Items that are
// neither an array nor null mean it is not. The items are kept as one raw
// value, not one per item: a hostile document may hold millions.
func isJSONFeed(text []byte) bool {
	var probe struct {
		Version any             `json:"version"`
		Items   json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(text, &probe); err != nil {
		return false
	}
	items := bytes.TrimSpace(probe.Items)
	isArray := len(items) > 0 && items[0] == '['
	if len(items) > 0 && !isArray && string(items) != "null" {
		return false
	}
	if v, ok := probe.Version.(string); ok && strings.Contains(v, "jsonfeed.org/version/") {
		return true
	}
	return probe.Version == nil && isArray
}

// rootElement returns the lower-cased local name of the first element of an
// XML document, reading past the prolog, comments and doctype.
func rootElement(text []byte) (string, error) {
	d := xml.NewDecoder(bytes.NewReader(text))
	d.Strict = false
	d.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil } // already UTF-8
	for {
		tok, err := d.RawToken()
		if err != nil {
			return "", err
		}
		if se, ok := tok.(xml.StartElement); ok {
			return strings.ToLower(se.Name.Local), nil
		}
	}
}

// feedRootIndex returns where a feed's root element starts in text, or -1.
func feedRootIndex(text []byte) int {
	best := -1
	for _, tag := range []string{"<rss", "<rdf:RDF", "<feed"} {
		i := bytes.Index(text, []byte(tag))
		if i <= 0 || i+len(tag) >= len(text) {
			continue
		}
		if c := text[i+len(tag)]; c != '>' && !isXMLSpace(c) {
			continue
		}
		if best < 0 || i < best {
			best = i
		}
	}
	return best
}

func looksLikeHTML(text []byte) bool {
	head := text
	if len(head) > 2048 {
		head = head[:2048]
	}
	head = bytes.ToLower(head)
	return bytes.Contains(head, []byte("<!doctype html")) || bytes.Contains(head, []byte("<html"))
}

func hasToken(list, tok string) bool {
	for _, f := range strings.Fields(list) {
		if f == tok {
			return true
		}
	}
	return false
}
