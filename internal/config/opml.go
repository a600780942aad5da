package config

import (
	"encoding/csv"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/url"
	"path"
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/net/html/charset"
	"golang.org/x/net/publicsuffix"
	"golang.org/x/text/unicode/norm"

	"github.com/kpolicy/aggregator/internal/curate"
	"github.com/kpolicy/aggregator/internal/feed"
)

// maxImport bounds what an import reads: a subscription list is small.
const maxImport = 8 << 20

// maxFolderTags is how many enclosing outlines give a feed a tag each: the
// outermost ones. Real lists nest folders one to three deep; without a cap
// a feed at depth n would take n tags, and a list nested n deep n²/2.
const maxFolderTags = 8

// Import is what an OPML or CSV list of feeds yields for feeds.yaml.
type Import struct {
	Sources []feed.Source // new sources, with ids unique among themselves and the existing ones
	Notes   []string      // what was skipped and why, one line each
}

// ImportOPML reads an OPML subscription list (any version) and returns a
// source for every outline with an xmlUrl, tagged with the slugs of the
// outlines it sits in (the outermost maxFolderTags) and of its category
// attribute. Feeds whose URL
// matches one of existing (http/https, "www.", trailing slash and fragment
// ignored) or an earlier one in the file are skipped with a note. Malformed
// XML is an error naming name and the line.
func ImportOPML(r io.Reader, name string, existing []feed.Source) (Import, error) {
	dec := xml.NewDecoder(io.LimitReader(r, maxImport))
	dec.CharsetReader = charset.NewReaderLabel
	im := newImporter(existing)
	// The enclosing outlines: each one's tag ("" when its text gives none),
	// and the non-empty ones, outermost first. Each outline is slugged once.
	var stack, folders []string
	sawOPML, noted := false, false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				return Import{}, fmt.Errorf("import %s:%d: not well-formed XML: %s", name, se.Line, se.Msg)
			}
			return Import{}, fmt.Errorf("import %s: %w", name, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch strings.ToLower(t.Name.Local) {
			case "opml":
				sawOPML = true
			case "outline":
				a := attrs(t.Attr)
				text := firstNonEmpty(a["title"], a["text"])
				if u := strings.TrimSpace(a["xmlurl"]); u != "" {
					line, _ := dec.InputPos()
					n := min(len(folders), maxFolderTags)
					if n < len(folders) && !noted {
						noted = true
						im.notes = append(im.notes, fmt.Sprintf("%s:%d: outlines nest more than %d folders deep: feeds inside take the tags of the outermost %d only", name, line, maxFolderTags, maxFolderTags))
					}
					tags := append(make([]string, 0, n+1), folders[:n]...)
					for _, c := range strings.Split(a["category"], ",") {
						c = strings.TrimSpace(c)
						if i := strings.LastIndex(c, "/"); i >= 0 {
							c = c[i+1:]
						}
						tags = append(tags, c)
					}
					im.add(fmt.Sprintf("%s:%d", name, line), u, text, "", tags, "")
				}
				tag := Slug(text, 40)
				stack = append(stack, tag)
				if tag != "" {
					folders = append(folders, tag)
				}
			}
		case xml.EndElement:
			if strings.ToLower(t.Name.Local) == "outline" && len(stack) > 0 {
				if stack[len(stack)-1] != "" {
					folders = folders[:len(folders)-1]
				}
				stack = stack[:len(stack)-1]
			}
		}
	}
	if !sawOPML {
		return Import{}, fmt.Errorf("import %s: not an OPML file (no <opml> element)", name)
	}
	return im.result(), nil
}

// ImportCSV reads a CSV list of feeds with a header row naming a "url"
// column and optionally "title" (or "name"), "publisher" (put before the
// title) and "categories" or "tags" (separated by spaces, commas or "|").
// A list whose URLs are mostly bare home pages is refused: it lists
// publishers, not feeds.
func ImportCSV(r io.Reader, name string, existing []feed.Source) (Import, error) {
	cr := csv.NewReader(io.LimitReader(r, maxImport))
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if err != nil {
		return Import{}, fmt.Errorf("import %s: %w", name, err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	if _, ok := col["url"]; !ok {
		return Import{}, fmt.Errorf("import %s:1: the header row has no \"url\" column (got %q)", name, strings.Join(head, ","))
	}
	get := func(rec []string, names ...string) string {
		for _, n := range names {
			if i, ok := col[n]; ok && i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
		}
		return ""
	}
	im := newImporter(existing)
	rows, homePages := 0, 0
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Import{}, fmt.Errorf("import %s: %w", name, err)
		}
		line, _ := cr.FieldPos(0)
		u := get(rec, "url")
		if u == "" {
			im.notes = append(im.notes, fmt.Sprintf("%s:%d: no url; skipped", name, line))
			continue
		}
		rows++
		if pu, err := url.Parse(u); err == nil && strings.Trim(pu.Path, "/") == "" && pu.RawQuery == "" {
			homePages++
		}
		title := strings.TrimSpace(get(rec, "publisher") + " " + get(rec, "title", "name"))
		cats := strings.FieldsFunc(get(rec, "categories", "tags", "category"), func(r rune) bool { return r == ',' || r == '|' || unicode.IsSpace(r) })
		im.add(fmt.Sprintf("%s:%d", name, line), u, title, get(rec, "id"), cats, strings.Join(cats, "-"))
	}
	if rows > 0 && homePages*2 > rows {
		return Import{}, fmt.Errorf("import %s: %d of %d URLs are home pages, not feeds: this lists publishers, not their feeds", name, homePages, rows)
	}
	return im.result(), nil
}

type importer struct {
	sources []feed.Source
	notes   []string
	urls    map[string]string // RefKey → who has it
	ids     map[string]bool
	next    map[string]int // base id → next number to try, so n clashes cost O(n)
}

func newImporter(existing []feed.Source) *importer {
	im := &importer{urls: map[string]string{}, ids: map[string]bool{}, next: map[string]int{}}
	for _, s := range existing {
		im.urls[curate.RefKey(s.URL)] = "existing source " + s.ID
		im.ids[s.ID] = true
	}
	return im
}

func (im *importer) result() Import { return Import{Sources: im.sources, Notes: im.notes} }

// add takes one feed: at is "file:line", hint an extra id part (a
// category) used when the plain id is taken.
func (im *importer) add(at, rawURL, title, id string, tags []string, hint string) {
	u := strings.TrimSpace(rawURL)
	pu, err := url.Parse(u)
	if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
		im.notes = append(im.notes, fmt.Sprintf("%s: %q is not an http(s) URL; skipped", at, u))
		return
	}
	key := curate.RefKey(u)
	if who, dup := im.urls[key]; dup {
		im.notes = append(im.notes, fmt.Sprintf("%s: %s is already %s; skipped", at, u, who))
		return
	}
	s := feed.Source{URL: u, Title: strings.Join(strings.Fields(title), " ")}
	seen := map[string]bool{}
	for _, t := range tags {
		if t = Slug(t, 40); t != "" && !seen[t] {
			seen[t] = true
			s.Tags = append(s.Tags, t)
		}
	}
	s.ID = im.uniqueID(id, s.Title, pu, hint)
	im.urls[key] = "imported as " + s.ID
	im.sources = append(im.sources, s)
}

// uniqueID derives an id: the given one if valid, else the title's slug
// when the title is mostly Latin letters, else the publisher's name from
// the host ("www.khan.co.kr" → "khan"); when taken, with the hint, the
// last path segment, or a number appended.
func (im *importer) uniqueID(given, title string, u *url.URL, hint string) string {
	base := ""
	if given != "" && idPattern.MatchString(given) && len(given) <= maxIDLen {
		base = given
	} else if latinShare(title) >= 0.5 {
		base = Slug(title, 40)
	}
	if base == "" {
		base = hostID(u.Hostname())
	}
	seg := strings.TrimSuffix(path.Base(u.Path), path.Ext(u.Path))
	candidates := []string{base}
	if h := Slug(hint, 20); h != "" {
		candidates = append(candidates, base+"-"+h)
	}
	if s := Slug(seg, 20); s != "" {
		candidates = append(candidates, base+"-"+s)
	}
	for _, c := range candidates {
		if c != "" && !im.ids[c] {
			im.ids[c] = true
			return c
		}
	}
	for n := max(im.next[base], 2); ; n++ {
		if c := base + "-" + strconv.Itoa(n); !im.ids[c] {
			im.ids[c] = true
			im.next[base] = n + 1
			return c
		}
	}
}

// hostID names a feed by its publisher's domain without its public
// suffix: "www.khan.co.kr" → "khan", "hd.stheadline.com" → "stheadline".
func hostID(host string) string {
	host = strings.ToLower(host)
	if etld1, err := publicsuffix.EffectiveTLDPlusOne(host); err == nil {
		if i := strings.IndexByte(etld1, '.'); i > 0 {
			if s := Slug(etld1[:i], 40); s != "" {
				return s
			}
		}
	}
	if s := Slug(strings.TrimPrefix(host, "www."), 40); s != "" {
		return s
	}
	return "feed"
}

// latinShare is the share of letters in s that are Latin.
func latinShare(s string) float64 {
	latin, all := 0, 0
	for _, r := range s {
		if unicode.IsLetter(r) {
			all++
			if unicode.Is(unicode.Latin, r) {
				latin++
			}
		}
	}
	if all == 0 {
		return 0
	}
	return float64(latin) / float64(all)
}

// Slug makes an id of s: accents dropped ("Séoul" → "seoul"), lower-case
// ASCII letters and digits, anything else a single "-", at most max bytes
// cut at a "-" when possible. "" when s has no ASCII letter or digit.
func Slug(s string, max int) string {
	var b strings.Builder
	dash := false
	for _, r := range norm.NFKD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(unicode.ToLower(r))
		default:
			dash = true
		}
	}
	out := b.String()
	if len(out) > max {
		out = out[:max]
		if i := strings.LastIndexByte(out, '-'); i > max/2 {
			out = out[:i]
		}
		out = strings.TrimRight(out, "-")
	}
	return out
}

// FormatSources writes sources as feeds.yaml "sources:" list entries,
// ready to paste under "sources:".
func FormatSources(sources []feed.Source) string {
	var b strings.Builder
	for _, s := range sources {
		fmt.Fprintf(&b, "  - id: %s\n    url: %s\n", s.ID, strconv.Quote(s.URL))
		if s.Title != "" {
			fmt.Fprintf(&b, "    title: %s\n", strconv.Quote(s.Title))
		}
		if len(s.Tags) > 0 {
			fmt.Fprintf(&b, "    tags: [%s]\n", strings.Join(s.Tags, ", "))
		}
	}
	return b.String()
}

func attrs(list []xml.Attr) map[string]string {
	m := make(map[string]string, len(list))
	for _, a := range list {
		m[strings.ToLower(a.Name.Local)] = a.Value
	}
	return m
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return ""
}
