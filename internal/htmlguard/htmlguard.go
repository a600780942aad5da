// Package htmlguard bounds what building the tree of an untrusted HTML
// page costs, before golang.org/x/net/html builds it.
//
// The HTML5 tree builder is robust but not cheap on hostile input. It
// refuses a page that nests more than 512 elements, but below that: every
// start tag looks down the stack of open elements, so a page 500 deep
// followed by 400,000 paragraphs (3 MB) takes 24 s; and formatting elements
// (<b>, <font>, …) left open are re-created before every later text, so
// 300 distinct unclosed <b> followed by "<div>x</div>" 4,000 times (51 KB)
// makes 1.2 million nodes, 184 MB (measured with x/net v0.62.0). Check runs
// the tokenizer alone, follows the stack and the list of open formatting
// elements closely enough to bound depth, nodes and that work from above,
// and refuses the page when a bound is passed. Following them costs Check
// about what it bounds: it stops as soon as a bound is passed.
//
// It owns only that estimate: it builds no tree and keeps no state.
package htmlguard

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/net/html"
)

// Bounds of Check. A large real listing page has a few thousand elements
// nested some 30 deep and keeps a handful of formatting elements open.
const (
	// MaxDepth is the nesting x/net/html itself refuses beyond (and that
	// Chromium's parser flattens beyond).
	MaxDepth = 512
	// MaxNodes bounds the elements, texts and comments of the tree,
	// counting the formatting elements the builder would re-create:
	// about 40 MB of nodes.
	MaxNodes = 250_000
	// MaxWork bounds the steps the builder takes looking down the stack
	// of open elements and the list of formatting elements (at every
	// start tag, and for every end tag and formatting element): about
	// half a second of parsing. A large real page takes some 250,000.
	MaxWork = 10_000_000
)

// ErrTooComplex is wrapped by the error Check returns for a page that
// passes a bound.
var ErrTooComplex = errors.New("HTML too complex to parse")

// Cost is what Check estimated of a page.
type Cost struct {
	Depth int // deepest nesting of elements
	Nodes int // nodes of the tree, re-created formatting elements included
	Work  int // steps down the stack and the list of formatting elements
}

// Check returns nil when the tree of page stays within the bounds, else an
// error wrapping ErrTooComplex that says which bound and at which byte.
func Check(page []byte) error {
	_, err := Measure(page)
	return err
}

// Measure is Check that also returns the estimate, as far as it got.
func Measure(page []byte) (Cost, error) {
	g := guard{cost: Cost{Nodes: 3}} // <html>, <head> and <body> are always there
	z := html.NewTokenizer(bytes.NewReader(page))
	offset := 0
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			return g.cost, nil // io.EOF: a bytes.Reader has no other error
		}
		offset += len(z.Raw())
		switch tt {
		case html.TextToken:
			g.text()
		case html.CommentToken:
			g.cost.Nodes++
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			key := string(name)
			if hasAttr && formatting[string(name)] {
				key = attrKey(z, key)
			}
			g.start(string(name), key, tt == html.SelfClosingTagToken)
		case html.EndTagToken:
			name, _ := z.TagName()
			g.end(string(name))
		}
		if err := g.check(); err != nil {
			return g.cost, fmt.Errorf("%w: %v (at byte %d)", ErrTooComplex, err, offset)
		}
	}
}

// attrKey is a formatting element's identity for the "Noah's Ark" rule:
// its name and attributes, which the builder compares.
func attrKey(z *html.Tokenizer, name string) string {
	var b strings.Builder
	b.WriteString(name)
	for {
		k, v, more := z.TagAttr()
		b.WriteByte(0)
		b.Write(k)
		b.WriteByte('=')
		b.Write(v)
		if !more {
			return b.String()
		}
	}
}

// open is an element on the simulated stack.
type open struct {
	name string
	fmt  *active // its entry in the list of formatting elements, if any
}

// active is an entry of the list of active formatting elements; a nil
// *active in the list is a marker (td, th, caption, object, …).
type active struct {
	name, key string
	onStack   bool
}

type guard struct {
	cost    Cost
	stack   []open
	list    []*active
	foreign int // depth inside <svg> or <math>, where "/>" closes
}

func (g *guard) check() error {
	switch {
	case g.cost.Depth > MaxDepth:
		return fmt.Errorf("elements nested more than %d deep", MaxDepth)
	case g.cost.Nodes > MaxNodes:
		return fmt.Errorf("more than %d nodes", MaxNodes)
	case g.cost.Work > MaxWork:
		return fmt.Errorf("more than %d steps of tree building (elements too many and too deep)", MaxWork)
	case len(g.list) > 2*MaxDepth:
		return fmt.Errorf("more than %d formatting elements left open", 2*MaxDepth)
	}
	return nil
}

func (g *guard) push(o open) {
	g.stack = append(g.stack, o)
	g.cost.Depth = max(g.cost.Depth, len(g.stack))
}

// text is a text token: the builder re-creates the formatting elements
// that were closed around it and are still active.
func (g *guard) text() {
	g.reconstruct()
	g.cost.Nodes++
}

// reconstruct re-opens the active formatting elements that were closed
// since the last one still open (or the last marker), as the builder does:
// the cost is the elements it re-creates.
func (g *guard) reconstruct() {
	i := len(g.list)
	for i > 0 && g.list[i-1] != nil && !g.list[i-1].onStack {
		i--
	}
	for _, a := range g.list[i:] {
		a.onStack = true
		g.push(open{name: a.name, fmt: a})
		g.cost.Nodes++
	}
}

func (g *guard) start(name, key string, selfClosing bool) {
	switch name {
	case "html", "head", "body", "frameset":
		return // the root elements; their attributes merge
	}
	g.cost.Work += len(g.stack)
	for _, c := range impliedEnd[name] {
		g.popTo(c.targets, c.boundary)
	}
	switch name {
	case "a": // a new <a> closes the open one
		g.removeActive("a")
	case "tr", "td", "th": // rows go in a <tbody>, cells in a <tr>, made when missing
		g.implyTableParents(name)
	}
	if !blockLike[name] {
		g.reconstruct()
	}
	g.cost.Nodes++
	if void[name] || selfClosing && g.foreign > 0 {
		return
	}
	o := open{name: name}
	switch {
	case formatting[name]:
		g.noahsArk(key)
		o.fmt = &active{name: name, key: key, onStack: true}
		g.list = append(g.list, o.fmt)
	case marker[name]:
		g.list = append(g.list, nil)
	case name == "svg" || name == "math":
		g.foreign++
	}
	g.push(o)
}

// implyTableParents opens the <tbody> (and <tr>) the builder inserts
// around a row (or cell) given straight inside a table.
func (g *guard) implyTableParents(name string) {
	parent := ""
	for i := len(g.stack) - 1; i >= 0; i-- {
		if n := g.stack[i].name; tableParts[n] || n == "template" || n == "html" {
			parent = n
			break
		}
	}
	if parent == "table" {
		g.push(open{name: "tbody"})
		g.cost.Nodes++
		parent = "tbody"
	}
	if name != "tr" && (parent == "tbody" || parent == "thead" || parent == "tfoot") {
		g.push(open{name: "tr"})
		g.cost.Nodes++
	}
}

// noahsArk keeps at most three identical formatting elements after the
// last marker: a fourth pushes the earliest out of the list.
func (g *guard) noahsArk(key string) {
	n, first := 0, -1
	for i := len(g.list) - 1; i >= 0 && g.list[i] != nil; i-- {
		g.cost.Work++
		if g.list[i].key == key {
			n++
			first = i
		}
	}
	if n >= 3 {
		g.list[first].onStack = false // no longer re-created, whatever the stack holds
		g.list = slices.Delete(g.list, first, first+1)
	}
}

// removeActive drops the last active element named name after the last
// marker from the list, and from the stack if it is there.
func (g *guard) removeActive(name string) {
	for i := len(g.list) - 1; i >= 0 && g.list[i] != nil; i-- {
		g.cost.Work++
		a := g.list[i]
		if a.name != name {
			continue
		}
		g.list = slices.Delete(g.list, i, i+1)
		for j := len(g.stack) - 1; j >= 0; j-- {
			g.cost.Work++
			if g.stack[j].fmt == a {
				g.stack = slices.Delete(g.stack, j, j+1)
				break
			}
		}
		return
	}
}

func (g *guard) end(name string) {
	if void[name] {
		return
	}
	switch name {
	case "html", "head", "body", "frameset":
		return
	}
	if formatting[name] {
		// The adoption agency: the element is closed wherever it is, and
		// may be cloned into the blocks inside it (a few times at most).
		for i := len(g.list) - 1; i >= 0 && g.list[i] != nil; i-- {
			g.cost.Work++
			if a := g.list[i]; a.name == name {
				g.list = slices.Delete(g.list, i, i+1)
				if a.onStack {
					g.popWhere(func(o open) bool { return o.fmt == a }, scope)
					g.cost.Nodes += 3
				}
				return
			}
		}
		return
	}
	boundary := scope
	switch {
	case tableParts[name]:
		boundary = tableScope
	case name == "li":
		boundary = listScope
	case name == "p":
		boundary = buttonScope
	}
	g.popTo(set(name), boundary)
}

// popTo pops the stack down to and including the nearest element named in
// targets, unless an element of boundary comes first.
func (g *guard) popTo(targets, boundary map[string]bool) {
	g.popWhere(func(o open) bool { return targets[o.name] }, boundary)
}

// popWhere pops the stack down to and including the nearest element for
// which is reports true, unless an element of boundary comes first.
func (g *guard) popWhere(is func(open) bool, boundary map[string]bool) {
	for i := len(g.stack) - 1; i >= 0; i-- {
		g.cost.Work++
		o := g.stack[i]
		if is(o) {
			for _, p := range g.stack[i:] {
				g.popped(p)
			}
			g.stack = g.stack[:i]
			return
		}
		if boundary[o.name] {
			return
		}
	}
}

// popped keeps the list in step with an element leaving the stack.
func (g *guard) popped(o open) {
	switch {
	case o.fmt != nil:
		o.fmt.onStack = false
	case marker[o.name]:
		// Closing a cell or caption clears the list back to its marker.
		for len(g.list) > 0 {
			last := g.list[len(g.list)-1]
			g.list = g.list[:len(g.list)-1]
			if last == nil {
				break
			}
		}
	case o.name == "svg" || o.name == "math":
		g.foreign = max(g.foreign-1, 0)
	}
}

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

func union(a map[string]bool, names ...string) map[string]bool {
	m := set(names...)
	for n := range a {
		m[n] = true
	}
	return m
}

var (
	void = set("area", "base", "br", "col", "embed", "hr", "img", "input", "keygen",
		"link", "meta", "param", "source", "track", "wbr", "basefont", "bgsound", "frame", "image")
	formatting = set("a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike", "strong", "tt", "u")
	marker     = set("applet", "marquee", "object", "template", "td", "th", "caption")
	tableParts = set("table", "caption", "colgroup", "tbody", "thead", "tfoot", "tr", "td", "th")

	// The scopes of the HTML standard: the elements that a search of the
	// stack for an element to close does not look past.
	scope       = set("applet", "caption", "html", "table", "td", "th", "marquee", "object", "template", "svg", "math")
	buttonScope = union(scope, "button")
	listScope   = union(scope, "ol", "ul")
	tableScope  = set("html", "table", "template")

	// blockLike are the start tags that do not re-create the formatting
	// elements (the others do, as text does).
	blockLike = set("address", "article", "aside", "blockquote", "center", "details", "dialog", "dir", "div",
		"dl", "fieldset", "figcaption", "figure", "footer", "header", "hgroup", "main", "menu", "nav", "ol",
		"p", "section", "search", "summary", "ul", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "listing", "form",
		"li", "dd", "dt", "plaintext", "table", "caption", "colgroup", "col", "tbody", "thead", "tfoot", "tr",
		"td", "th", "hr", "textarea", "iframe", "noembed", "noframes", "noscript",
		"base", "basefont", "bgsound", "link", "meta", "script", "style", "template", "title")
)

// closing is one step of the implied end of elements by a start tag.
type closing struct{ targets, boundary map[string]bool }

// impliedEnd names, for a start tag, the open elements it ends: a new <li>
// ends the open <li>, a block ends an open <p>, a <tr> ends the row.
var impliedEnd = impliedEnds()

func impliedEnds() map[string][]closing {
	p := closing{set("p"), buttonScope}
	m := map[string][]closing{
		"li":       {{set("li"), listScope}, p},
		"dt":       {{set("dd", "dt"), union(scope, "dl")}, p},
		"dd":       {{set("dd", "dt"), union(scope, "dl")}, p},
		"option":   {{set("option"), union(scope, "select")}},
		"optgroup": {{set("option", "optgroup"), union(scope, "select")}},
		"tr":       {{set("tr"), tableScope}},
		"td":       {{set("td", "th"), union(tableScope, "tr")}},
		"th":       {{set("td", "th"), union(tableScope, "tr")}},
		"tbody":    {{set("tbody", "thead", "tfoot"), tableScope}},
		"thead":    {{set("tbody", "thead", "tfoot"), tableScope}},
		"tfoot":    {{set("tbody", "thead", "tfoot"), tableScope}},
		"rb":       {{set("rb", "rt", "rp", "rtc"), union(scope, "ruby")}},
		"rtc":      {{set("rb", "rt", "rp", "rtc"), union(scope, "ruby")}},
		"rt":       {{set("rb", "rt", "rp"), union(scope, "ruby")}},
		"rp":       {{set("rb", "rt", "rp"), union(scope, "ruby")}},
	}
	for _, n := range []string{"address", "article", "aside", "blockquote", "center", "details", "dialog",
		"dir", "div", "dl", "fieldset", "figcaption", "figure", "footer", "header", "hgroup", "hr", "main",
		"menu", "nav", "ol", "p", "section", "summary", "ul", "h1", "h2", "h3", "h4", "h5", "h6", "pre",
		"listing", "form", "table", "xmp", "plaintext"} {
		m[n] = []closing{p}
	}
	return m
}
