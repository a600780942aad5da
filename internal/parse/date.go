package parse

import (
	"fmt"
	"strings"
	"time"

	gfjson "github.com/mmcdole/gofeed/json"
)

// zoneOffsets holds zone abbreviations that feeds use and gofeed does not
// know. gofeed (like time.Parse) reads an unknown abbreviation as UTC, or
// as the host's zone when the host happens to be in it, so "09:00 KST" came
// out as 09:00 UTC, nine hours late, on a server outside Korea. Ambiguous
// abbreviations (IST, CST's other readings) are left out on purpose.
var zoneOffsets = map[string]int{
	"KST":  9 * 3600, // Korea
	"JST":  9 * 3600, // Japan
	"HKT":  8 * 3600, // Hong Kong
	"SGT":  8 * 3600, // Singapore
	"PHT":  8 * 3600, // Philippines
	"AWST": 8 * 3600,
	"ICT":  7 * 3600, // Indochina
	"WIB":  7 * 3600, // Western Indonesia
	"MSK":  3 * 3600, // Moscow
	"AEST": 10 * 3600,
	"AEDT": 11 * 3600,
	"ACST": 9*3600 + 1800,
	"ACDT": 10*3600 + 1800,
	"NZST": 12 * 3600,
	"NZDT": 13 * 3600,
}

// numericZoneLayouts are tried once the abbreviation has been replaced by
// its numeric offset.
var numericZoneLayouts = []string{
	"Mon, 2 Jan 2006 15:04:05 -0700",
	"Mon, 2 Jan 2006 15:04 -0700",
	"Mon, 2 Jan 06 15:04:05 -0700",
	"2 Jan 2006 15:04:05 -0700",
	"2 Jan 2006 15:04 -0700",
	"Monday, 02-Jan-06 15:04:05 -0700",
	"Mon Jan _2 15:04:05 -0700 2006",
	"2006-01-02 15:04:05 -0700",
	"2006-01-02 15:04 -0700",
	"2006-01-02T15:04:05 -0700",
	"2006.01.02 15:04:05 -0700",
	"2006.01.02 15:04 -0700",
	"2006/01/02 15:04:05 -0700",
	"2006/01/02 15:04 -0700",
}

// feedTime returns the time a feed gave, in UTC: parsed is gofeed's reading
// of raw, and is corrected when raw names a zone gofeed does not know. It
// returns the zero time when the feed gave none that could be read.
func feedTime(raw string, parsed *time.Time) time.Time {
	if t, ok := parseNamedZone(raw); ok {
		return t.UTC()
	}
	if parsed == nil {
		return time.Time{}
	}
	return parsed.UTC()
}

// parseNamedZone parses raw when one of its words is an abbreviation from
// zoneOffsets.
func parseNamedZone(raw string) (time.Time, bool) {
	words := strings.Fields(raw)
	found := false
	for i, w := range words {
		if off, ok := zoneOffsets[strings.ToUpper(w)]; ok {
			words[i] = numericOffset(off)
			found = true
		}
	}
	if !found {
		return time.Time{}, false
	}
	s := strings.Join(words, " ")
	for _, layout := range numericZoneLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func numericOffset(sec int) string {
	sign := '+'
	if sec < 0 {
		sign, sec = '-', -sec
	}
	return fmt.Sprintf("%c%02d%02d", sign, sec/3600, sec%3600/60)
}

// pageLayouts are dates as web pages show them and feeds do not, tried
// after the feed formats: Korean sites' "2024.03.15" and "2024년 3월 15일",
// and the abbreviated months of American newspapers ("Feb. 28, 2024").
var pageLayouts = []string{
	"2006.01.02", "2006.1.2", "2006.01.02.", "2006. 1. 2.", "2006. 1. 2",
	"2006.01.02 15:04", "2006.01.02 15:04:05", "2006.01.02. 15:04",
	"2006년 1월 2일", "2006년 01월 02일", "2006년 1월 2일 15:04",
	"Jan. 2, 2006", "Jan. 2, 2006 3:04 PM",
}

// pageDate reads a date shown on a scraped page, in UTC: with layout when
// one is given, else in every format feed dates are read in (gofeed's, with
// the zone corrections of feedTime) and then pageLayouts. A date without a
// zone is taken as UTC. It returns the zero time when nothing fits.
func (p *Parser) pageDate(raw, layout string) time.Time {
	if layout != "" {
		if t, err := time.Parse(layout, raw); err == nil {
			return t.UTC()
		}
		return time.Time{}
	}
	// gofeed's date parser is internal; its JSON Feed translator applies it
	// to date_published, as it does for every feed this parser reads.
	var parsed *time.Time
	if uf, err := p.jsonT.Translate(&gfjson.Feed{Items: []*gfjson.Item{{DatePublished: raw}}}); err == nil && len(uf.Items) == 1 {
		parsed = uf.Items[0].PublishedParsed
	}
	if t := feedTime(raw, parsed); !t.IsZero() {
		return t
	}
	for _, l := range pageLayouts {
		if t, err := time.Parse(l, raw); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}
