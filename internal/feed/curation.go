package feed

import "time"

// Curation is what staff chose to show of a channel or of a source within
// its channels. The zero value keeps everything.
type Curation struct {
	// Include keeps only items that match at least one rule; empty keeps all.
	Include []Rule
	// Exclude drops items that match any rule; it wins over Include.
	Exclude []Rule
	// Languages keeps items whose language (the item's, else its feed's)
	// is one of these BCP 47 tags or a subtag of one ("ko" keeps "ko-KR").
	// Items with no language are kept. Empty keeps every language.
	Languages []string
	// MaxAge drops items published longer ago than this; 0 keeps all.
	MaxAge time.Duration
	// Hide lists items never to show, by link or upstream id.
	Hide []string
}

// IsZero reports whether c keeps every item.
func (c Curation) IsZero() bool {
	return len(c.Include) == 0 && len(c.Exclude) == 0 && len(c.Languages) == 0 && c.MaxAge == 0 && len(c.Hide) == 0
}

// Rule fields: what part of an item a rule looks at. FieldText is the
// default: title, summary, content, authors and categories.
const (
	FieldText     = "text"
	FieldTitle    = "title"
	FieldSummary  = "summary"
	FieldContent  = "content"
	FieldAuthor   = "author"
	FieldCategory = "category"
	FieldURL      = "url"
)

// RuleFields lists the fields a rule may name, FieldText first.
var RuleFields = []string{FieldText, FieldTitle, FieldSummary, FieldContent, FieldAuthor, FieldCategory, FieldURL}

// Rule matches an item's field against a keyword (case- and
// Unicode-folded substring) or, when Regexp is set, an RE2 expression.
type Rule struct {
	Field   string // one of RuleFields; "" means FieldText
	Pattern string // the keyword, or the expression without its slashes
	Regexp  bool
	// Where names the rule in feeds.yaml for explanations
	// ("feeds.yaml:31 channels[1].exclude[0]"); may be empty.
	Where string
}

// String writes the rule as staff wrote it: `title: /^\[AD\]/`, `sponsored`.
func (r Rule) String() string {
	p := r.Pattern
	if r.Regexp {
		p = "/" + p + "/"
	}
	if r.Field == "" || r.Field == FieldText {
		return p
	}
	return r.Field + ": " + p
}

// Retention is how many of a source's items the store keeps. Zero fields
// mean no limit of that kind.
type Retention struct {
	Items int // keep at most the newest Items items
	Days  int // drop items published more than Days days ago
}
