// Package scrape reads the items of a web page that has no feed, with the
// CSS selectors of a source's scrape settings (feed.Scrape): it owns the
// selector syntax ("h3 a@href"), compiling it (which config validation
// calls, so that a bad selector is a config error) and extracting, from a
// page's HTML, one Record per item.
//
// It does not normalise: a Record holds the page's markup and text as
// found, and internal/parse turns Records into items with the rules every
// feed's items follow (charset, identity, links, sanitising, dates, caps).
// It does no I/O and keeps no state.
package scrape

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/andybalholm/cascadia"

	"github.com/kpolicy/aggregator/internal/feed"
)

// ErrNoMatch is wrapped by the error Extract returns when the item selector
// matches nothing on the page: the page was redesigned, or is not the page
// the selectors were written for.
var ErrNoMatch = errors.New("matched nothing")

// Selector is one compiled field selector: a CSS selector group and, after
// "@", an attribute to read instead of the element's content. An empty CSS
// part ("@href") means the item element itself.
type Selector struct {
	Raw  string // as written in feeds.yaml
	Attr string // "" reads the element's content
	m    cascadia.Selector
}

// IsZero reports whether the field was left out.
func (s Selector) IsZero() bool { return s.Raw == "" }

// Rules are a source's scrape settings, compiled.
type Rules struct {
	Item, Title, Link, Date, Summary, Author Selector
	DateFormat                               string // a Go layout; "" for the usual formats
}

// FieldError is one bad setting: Field is its feeds.yaml name ("item",
// "date_format", …).
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// Compile checks and compiles s. Every bad setting is a *FieldError, all of
// them joined with errors.Join: item, title and link are required; each
// selector must compile (the message is the selector compiler's); item
// takes no attribute; date_format must be a Go layout that gives back a
// date's year, month and day, and needs a date selector.
func Compile(s feed.Scrape) (*Rules, error) {
	r := &Rules{DateFormat: s.DateFormat}
	var errs []error
	field := func(dst *Selector, name, raw string, required, attr bool) {
		sel, err := parseSelector(raw, attr)
		switch {
		case raw == "" && required:
			err = errors.New("required")
		case raw == "":
			return
		}
		if err != nil {
			errs = append(errs, &FieldError{Field: name, Err: err})
			return
		}
		*dst = sel
	}
	field(&r.Item, "item", s.Item, true, false)
	field(&r.Title, "title", s.Title, true, true)
	field(&r.Link, "link", s.Link, true, true)
	field(&r.Date, "date", s.Date, false, true)
	field(&r.Summary, "summary", s.Summary, false, true)
	field(&r.Author, "author", s.Author, false, true)
	if s.DateFormat != "" {
		if err := checkLayout(s.DateFormat); err != nil {
			errs = append(errs, &FieldError{Field: "date_format", Err: err})
		} else if s.Date == "" {
			errs = append(errs, &FieldError{Field: "date_format", Err: errors.New("needs a date selector")})
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return r, nil
}

// parseSelector splits "css@attr" and compiles the CSS part. The "@" that
// starts the attribute is the last one followed by nothing but an
// attribute name, so a selector such as a[href$="@x.org"] keeps its own.
func parseSelector(raw string, attrOK bool) (Selector, error) {
	s := Selector{Raw: raw}
	css := strings.TrimSpace(raw)
	if i := strings.LastIndexByte(css, '@'); i >= 0 && isAttrName(css[i+1:]) {
		if !attrOK {
			return s, fmt.Errorf("%q: takes no @attribute (it selects the items themselves)", raw)
		}
		css, s.Attr = strings.TrimSpace(css[:i]), strings.ToLower(css[i+1:])
	}
	if css == "" {
		if s.Attr == "" {
			return s, fmt.Errorf("%q: empty selector", raw)
		}
		return s, nil // the item element's own attribute
	}
	m, err := cascadia.Compile(css)
	if err != nil {
		return s, fmt.Errorf("%q: %v", raw, err)
	}
	s.m = m
	return s, nil
}

func isAttrName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == ':'
		if !letter && (i == 0 || !(c >= '0' && c <= '9' || c == '-' || c == '.')) {
			return false
		}
	}
	return true
}

// layoutProbe is the time a date_format must give back.
var layoutProbe = time.Date(2024, time.March, 15, 14, 30, 45, 0, time.UTC)

// checkLayout accepts a Go layout that formats and parses back a date with
// its year, month and day.
func checkLayout(layout string) error {
	t, err := time.Parse(layout, layoutProbe.Format(layout))
	if err != nil {
		return fmt.Errorf("%q is not a Go time layout: %v (write the reference date Mon Jan 2 15:04:05 MST 2006 as the page shows dates, e.g. \"January 2, 2006\")", layout, err)
	}
	if y, m, d := t.Date(); y != 2024 || m != time.March || d != 15 {
		return fmt.Errorf("%q is not a Go time layout giving year, month and day (it reads %s back as %s; write the reference date Mon Jan 2 15:04:05 MST 2006 as the page shows dates, e.g. \"2006.01.02\")",
			layout, layoutProbe.Format("2006-01-02"), t.Format("2006-01-02"))
	}
	return nil
}
