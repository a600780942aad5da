package parse

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/scrape"
)

// parseScrape reads the items of src's HTML page with its scrape settings
// (internal/scrape finds them) and normalises them as feed items are: the
// page decoded by its charset, links made absolute against the page and its
// <base href> and canonical, items keyed by src's identity policy (the
// canonical link, since a page has no GUIDs), titles and authors as plain
// text, summaries sanitised, dates in the feed formats or date_format, the
// caps of caps.go.
//
// The error names the source, the selector and the URL when the item
// selector matches nothing, or when no matched item has both a title and a
// link. Items that lack either are skipped and counted in Parsed.Warning,
// as are dates that could not be read (those items are undated: the store
// dates them by first-seen time).
func (p *Parser) parseScrape(body []byte, contentType, pageURL string, src feed.Source) (feed.Parsed, error) {
	rules, err := scrape.Compile(*src.Scrape)
	if err != nil { // config validation compiled them already
		return feed.Parsed{}, fmt.Errorf("scrape %s: %w", src.ID, err)
	}
	text, _ := transcode(body, contentType)
	page, err := rules.Extract(text, pageURL, MaxItemsPerFeed)
	if err != nil {
		return feed.Parsed{}, fmt.Errorf("scrape %s: %w", src.ID, err)
	}
	base, err := url.Parse(strings.TrimSpace(pageURL))
	if err != nil || !base.IsAbs() {
		base = nil
	}
	if page.Base != "" {
		if b := absLink(base, page.Base); b != "" {
			base, _ = url.Parse(b)
		}
	}
	out := feed.Parsed{
		Title:    plainText(page.Title),
		Link:     feed.CanonicalURL(absLink(nil, pageURL)),
		Language: strings.TrimSpace(page.Lang),
		Type:     "html",
	}

	var n notes
	var recs []scrape.Record
	var parts []idParts
	for _, rec := range page.Records {
		title, rawLink := plainText(rec.Title), plainText(rec.Link)
		link := absLink(base, rawLink)
		switch {
		case title == "":
			n.noTitle++
		case rawLink == "":
			n.noLink++
		case link == "":
			n.badLink++
			n.badLinkExample = clipText(rawLink, 80)
		default:
			recs = append(recs, rec)
			parts = append(parts, idParts{link: link, title: title, body: strings.TrimSpace(rec.Summary)})
		}
	}
	if len(recs) == 0 {
		return feed.Parsed{}, fmt.Errorf("scrape %s: item selector %q matched %d elements on %s, and none has both a title and a link: %s",
			src.ID, rules.Item.Raw, page.Matched, pageURL, n.skipped(rules))
	}

	keys, _ := keyEntries(parts, src.Identity)
	seen := make(map[string]bool, len(recs))
	for i, rec := range recs {
		if seen[keys[i]] {
			continue
		}
		seen[keys[i]] = true
		out.Items = append(out.Items, p.scrapedItem(rec, parts[i], keys[i], base, out.Language, src.ID, rules, &n))
	}
	out.Warning = n.warning(rules, page.Matched, len(page.Records), len(out.Items))
	return out, nil
}

// scrapedItem normalises one record; ip holds its plain title and
// absolute link.
func (p *Parser) scrapedItem(rec scrape.Record, ip idParts, key string, base *url.URL, lang, sourceID string, rules *scrape.Rules, n *notes) feed.Item {
	it := feed.Item{
		SourceID: sourceID,
		Key:      key,
		Link:     feed.CanonicalURL(ip.link),
		Title:    ip.title,
		Language: lang,
	}
	if rec.SummaryCut { // cut markup may be unbalanced: keep its text
		it.Summary = textAsHTML(capText(plainText(rec.Summary), scrape.MaxFieldBytes/4))
	} else {
		it.Summary = sanitiseHTML(p.policy, rec.Summary, base)
	}
	for _, a := range rec.Authors {
		if name := byline(plainText(a)); name != "" {
			it.Authors = append(it.Authors, feed.Person{Name: name})
		}
	}
	switch raw := plainText(rec.Date); {
	case raw != "":
		if t := p.pageDate(raw, rules.DateFormat); !t.IsZero() {
			it.Published, it.Updated, it.Dated = t, t, true
		} else {
			n.badDate++
			n.badDateExample = clipText(raw, 40)
		}
	case !rules.Date.IsZero():
		n.noDate++
	}
	capItem(&it)
	return it
}

// byline is an author's name without the "By " that listings put first.
func byline(s string) string {
	if len(s) > 3 && strings.EqualFold(s[:3], "by ") {
		return strings.TrimSpace(s[3:])
	}
	return s
}

// notes counts what went wrong with single items of a scraped page.
type notes struct {
	noTitle, noLink, badLink, noDate, badDate int
	badLinkExample, badDateExample            string
}

// skipped says why items were skipped, "" when none was.
func (n notes) skipped(r *scrape.Rules) string {
	var why []string
	if n.noTitle > 0 {
		why = append(why, fmt.Sprintf("title selector %q found no text in %d", r.Title.Raw, n.noTitle))
	}
	if n.noLink > 0 {
		why = append(why, fmt.Sprintf("link selector %q found nothing in %d", r.Link.Raw, n.noLink))
	}
	if n.badLink > 0 {
		why = append(why, fmt.Sprintf("link selector %q found no http(s) URL in %d (such as %q)", r.Link.Raw, n.badLink, n.badLinkExample))
	}
	return strings.Join(why, ", ")
}

// warning is the poll warning of a scraped page, "" when all went well.
func (n notes) warning(r *scrape.Rules, matched, read, kept int) string {
	var w []string
	if s := n.skipped(r); s != "" {
		w = append(w, fmt.Sprintf("%d of %d items skipped: %s", n.noTitle+n.noLink+n.badLink, read, s))
	}
	if n.noDate > 0 {
		w = append(w, fmt.Sprintf("date selector %q found nothing in %d of %d items: dated by first-seen time", r.Date.Raw, n.noDate, kept))
	}
	if n.badDate > 0 {
		how := "in any known date format"
		if r.DateFormat != "" {
			how = fmt.Sprintf("with date_format %q", r.DateFormat)
		}
		w = append(w, fmt.Sprintf("%d of %d dates could not be read %s (such as %q): dated by first-seen time", n.badDate, kept-n.noDate, how, n.badDateExample))
	}
	if matched > read {
		w = append(w, fmt.Sprintf("item selector %q matched %d elements: the first %d were read", r.Item.Raw, matched, read))
	}
	return strings.Join(w, "; ")
}
