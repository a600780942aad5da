package config

import (
	"errors"

	"github.com/goccy/go-yaml/ast"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/scrape"
)

// scrape decodes sources[].scrape, the selectors that read the items of a
// page without a feed. Validation compiles them (see validator.scrape).
func (d *decoder) scrape(dst **feed.Scrape) func(ast.Node, string) {
	return func(n ast.Node, path string) {
		s := &feed.Scrape{}
		d.mapping(n, path, []key{
			{"item", d.str(&s.Item)},
			{"title", d.str(&s.Title)},
			{"link", d.str(&s.Link)},
			{"date", d.str(&s.Date)},
			{"date_format", d.str(&s.DateFormat)},
			{"summary", d.str(&s.Summary)},
			{"author", d.str(&s.Author)},
		})
		*dst = s
	}
}

// scrape checks the scrape settings of the source at path p by compiling
// them as the parser will: every problem is reported at its own key.
func (v *validator) scrape(p string, s feed.Source) {
	if s.Scrape == nil {
		return
	}
	_, err := scrape.Compile(*s.Scrape)
	var fe *scrape.FieldError
	for _, e := range joined(err) {
		if errors.As(e, &fe) {
			v.add(p+".scrape."+fe.Field, "%v", fe.Err)
		} else {
			v.add(p+".scrape", "%v", e)
		}
	}
	if s.Identity == feed.IdentityGUID {
		v.add(p+".identity", "%q cannot identify scraped items, which have no guid; use %s, %s or %s",
			s.Identity, feed.IdentityAuto, feed.IdentityLink, feed.IdentityContent)
	}
}

// joined returns the errors joined in err, or err alone; nil for nil.
func joined(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	if err == nil {
		return nil
	}
	return []error{err}
}
