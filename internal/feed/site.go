package feed

// Site is the identity of the published site: what its pages, its
// OpenSearch description and its feeds call it. Config fills every field
// (Title and Language are never empty after validation) and sanitises
// Footer; outputs trust it.
type Site struct {
	// Title names the site: every page's <title> and header, the
	// OpenSearch ShortName, the feeds' author where one is needed.
	Title string
	// Description says what the site is, in a sentence: the index page,
	// the OpenSearch Description. May be empty.
	Description string
	// Language is the BCP 47 tag of the site's own text (its labels,
	// title, description, footer): every page's <html lang>. An item's
	// text carries its own language.
	Language string
	// Footer is HTML shown at the foot of every page, already sanitised
	// with the pages' policy. May be empty.
	Footer string
}
