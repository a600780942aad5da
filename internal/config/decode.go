package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"

	"github.com/kpolicy/aggregator/internal/feed"
)

// Bounds on the input. The YAML parser slows down quadratically with the
// nesting depth of flow collections ([ ] and { }) and with the number of
// keys in one mapping, so a hostile or corrupted file is refused before it
// can take long. A feeds.yaml with a thousand sources is about 120KB, has
// some 5,000 keys and nests flow collections three deep.
const (
	maxFileSize  = 256 << 10
	maxFlowDepth = 20
	maxKeys      = 10000
	// maxProblems is how many problems Parse reports at most; a file with
	// more is not worth listing line by line.
	maxProblems = 100
)

// Parse decodes feeds.yaml from r over Default(), fills the defaults that
// depend on other keys (a source's interval is fetch.interval unless given;
// base_url loses its trailing slash), and validates the result.
//
// Decoding is strict: unknown and duplicate keys, values of the wrong type,
// YAML aliases and tags are all problems. Every problem found is reported at
// once, each a *Problem naming filename, line and YAML path, joined with
// errors.Join (see Problems); the Config is then the zero value. An error
// reading r is returned wrapped instead. An empty file is valid: it yields
// Default() with no sources and no channels.
func Parse(r io.Reader, filename string) (Config, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxFileSize+1))
	if err != nil {
		return Config{}, fmt.Errorf("parse config %s: %w", filename, err)
	}
	d := &decoder{
		file:   filename,
		lines:  map[string]int{},
		failed: map[string]bool{},
		given:  map[string]bool{},
	}
	if len(data) > maxFileSize {
		d.add(0, "", fmt.Sprintf("file is larger than %s", formatSize(maxFileSize)))
		return Config{}, join(d.probs)
	}
	root, ok := d.document(data)
	if !ok {
		return Config{}, join(d.probs)
	}
	c := d.config(root)
	c.file = fileFacts{
		name:           filename,
		empty:          root == nil,
		sourcesListed:  d.given["sources"],
		channelsListed: d.given["channels"],
		endsLine:       len(data) == 0 || data[len(data)-1] == '\n',
		lines:          1 + bytes.Count(data, []byte("\n")),
	}
	for i := range c.Sources {
		if !d.given[fmt.Sprintf("sources[%d].interval", i)] {
			c.Sources[i].Interval = c.Fetch.Interval
		}
	}
	c.Server.BaseURL = trimSlash(c.Server.BaseURL)
	d.inheritKeep(&c)
	c.fillSite(func(path string) bool { return d.given[path] })

	for _, p := range c.problems() {
		if d.suppressed(p.Path) {
			continue
		}
		p.File, p.Line = d.file, d.lineOf(p.Path)
		d.probs = append(d.probs, p)
	}
	if len(d.probs) > 0 {
		slices.SortStableFunc(d.probs, func(a, b *Problem) int { return sortLine(a.Line) - sortLine(b.Line) })
		if n := len(d.probs); n > maxProblems {
			d.probs = append(d.probs[:maxProblems],
				&Problem{File: d.file, Msg: fmt.Sprintf("%d more problems not shown", n-maxProblems)})
		}
		return Config{}, join(d.probs)
	}
	c.Site.Footer = SanitizedFooter(c.Site.Footer)
	return c, nil
}

// sortLine orders problems by line, those without one last.
func sortLine(n int) int {
	if n <= 0 {
		return math.MaxInt32
	}
	return n
}

// trimSlash drops trailing slashes from a URL, but not the "//" of a bare
// scheme, so that a mistake stays visible to validation.
func trimSlash(u string) string {
	for strings.HasSuffix(u, "/") && !strings.HasSuffix(u, "//") {
		u = u[:len(u)-1]
	}
	return u
}

// decoder walks the YAML syntax tree of one file, fills a Config and
// collects problems with the line of each value.
type decoder struct {
	file   string
	probs  []*Problem
	lines  map[string]int  // YAML path → line of its key or list entry
	failed map[string]bool // paths whose value could not be decoded
	given  map[string]bool // paths given a non-null value
}

// add records a problem.
func (d *decoder) add(line int, path, msg string) {
	d.probs = append(d.probs, &Problem{File: d.file, Line: line, Path: path, Msg: msg})
}

// bad records a problem with the value at path, and that validation must
// not report it again.
func (d *decoder) bad(n ast.Node, path, msg string) {
	l := d.lines[path]
	if l == 0 {
		l = line(n)
	}
	d.add(l, path, msg)
	d.failed[path] = true
}

// lineOf returns the line of path, else of its nearest ancestor with one.
func (d *decoder) lineOf(path string) int {
	for p := path; ; p = parent(p) {
		if l, ok := d.lines[p]; ok && l > 0 {
			return l
		}
		if p == "" {
			return 0
		}
	}
}

// suppressed reports whether a validation problem at path only repeats a
// decoding problem: path, an ancestor or a descendant failed to decode (a
// channel whose tags could not be read does not also "select nothing"), or
// path is a source interval inherited from fetch.interval (reported there).
func (d *decoder) suppressed(path string) bool {
	if strings.HasPrefix(path, "sources[") && strings.HasSuffix(path, "].interval") && !d.given[path] {
		return true
	}
	for p := path; ; p = parent(p) {
		if d.failed[p] {
			return true
		}
		if p == "" {
			break
		}
	}
	for p := range d.failed {
		if path == "" || strings.HasPrefix(p, path+".") || strings.HasPrefix(p, path+"[") {
			return true
		}
	}
	return false
}

// parent returns the path one level up: "sources[3]" for "sources[3].url",
// "sources" for "sources[3]", "" for "sources".
func parent(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

func child(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

var bom = []byte("\xef\xbb\xbf")

// document parses data as YAML and returns the body of its one document,
// nil for an empty file. It reports false after recording a problem.
func (d *decoder) document(data []byte) (ast.Node, bool) {
	data = bytes.TrimPrefix(data, bom)
	if !utf8.Valid(data) {
		d.add(invalidUTF8Line(data), "", "not valid UTF-8; save the file as UTF-8")
		return nil, false
	}
	f, err := parseYAML(data)
	if err != nil {
		// Not err.Error(): the parser's errors quote the source around the
		// error, which is slow on long lines and repeats what we say.
		l, msg := 0, ""
		var ye yaml.Error
		if errors.As(err, &ye) {
			msg = ye.GetMessage()
			if tk := ye.GetToken(); tk != nil && tk.Position != nil {
				l = tk.Position.Line
			}
		} else {
			msg = err.Error()
		}
		d.add(l, "", "invalid YAML: "+msg)
		return nil, false
	}
	var body ast.Node
	for _, doc := range f.Docs {
		if doc == nil || isNull(doc.Body) {
			continue
		}
		if body != nil {
			d.add(line(doc.Body), "", "more than one YAML document (---); keep one")
			return nil, false
		}
		body = doc.Body
	}
	return body, true
}

// parseYAML runs the parser. Duplicate keys are allowed here because the
// decoder reports them itself, alongside every other problem. A panic in
// the parser is turned into an error: no input may crash the program.
func parseYAML(data []byte) (f *ast.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("the YAML parser failed (%v)", r)
		}
	}()
	tokens := lexer.Tokenize(string(data))
	if err := tooComplex(tokens); err != nil {
		return nil, err
	}
	return parser.Parse(tokens, 0, parser.AllowDuplicateMapKey())
}

// tooComplex returns a syntax error at the first token that opens a flow
// collection nested more than maxFlowDepth deep or that is a key beyond
// maxKeys, nil if there is none.
func tooComplex(tokens token.Tokens) error {
	depth, keys := 0, 0
	for _, tk := range tokens {
		switch tk.Type {
		case token.SequenceStartType, token.MappingStartType:
			if depth++; depth > maxFlowDepth {
				return &yaml.SyntaxError{Message: fmt.Sprintf("[ ] and { } nested more than %d deep", maxFlowDepth), Token: tk}
			}
		case token.SequenceEndType, token.MappingEndType:
			depth = max(depth-1, 0)
		case token.MappingValueType:
			if keys++; keys > maxKeys {
				return &yaml.SyntaxError{Message: fmt.Sprintf("more than %d keys", maxKeys), Token: tk}
			}
		}
	}
	return nil
}

func invalidUTF8Line(data []byte) int {
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			return 1 + bytes.Count(data[:i], []byte("\n"))
		}
		i += size
	}
	return 0
}

// config decodes the root mapping over Default().
func (d *decoder) config(root ast.Node) Config {
	c := Default()
	d.mapping(root, "", []key{
		{"server", func(n ast.Node, path string) {
			d.mapping(n, path, []key{
				{"listen", d.str(&c.Server.Listen)},
				{"base_url", d.str(&c.Server.BaseURL)},
				{"max_connections", d.integer(&c.Server.MaxConnections)},
				{"max_connections_per_ip", d.integer(&c.Server.MaxConnectionsPerIP)},
			})
		}},
		{"site", d.site(&c.Site)},
		{"storage", func(n ast.Node, path string) {
			d.mapping(n, path, []key{
				{"path", d.str(&c.Storage.Path)},
				{"search", d.str(&c.Storage.Search)},
				{"keep", d.keep(&c.Storage.Keep)},
				{"max_size", d.size(&c.Storage.MaxSize)},
			})
		}},
		{"fetch", func(n ast.Node, path string) {
			f := &c.Fetch
			d.mapping(n, path, []key{
				{"user_agent", d.str(&f.UserAgent)},
				{"contact", d.str(&f.Contact)},
				{"interval", d.duration(&f.Interval)},
				{"timeout", d.duration(&f.Timeout)},
				{"max_body", d.size(&f.MaxBody)},
				{"allow_private_networks", d.boolean(&f.AllowPrivateNetworks)},
				{"concurrency", d.integer(&f.Concurrency)},
				{"max_interval", d.duration(&f.MaxInterval)},
				{"host_gap", d.duration(&f.HostGap)},
				{"lease", d.duration(&f.Lease)},
				{"adaptive", d.boolean(&f.Adaptive)},
				{"future_dates", d.str(&f.FutureDates)},
			})
		}},
		{"sources", func(n ast.Node, path string) {
			d.list(n, path, func(n ast.Node, path string) {
				c.Sources = append(c.Sources, d.source(n, path))
			})
		}},
		{"channels", func(n ast.Node, path string) {
			d.list(n, path, func(n ast.Node, path string) {
				c.Channels = append(c.Channels, d.channel(n, path))
			})
		}},
		{"dedupe", func(n ast.Node, path string) {
			d.mapping(n, path, []key{
				{"title_window", d.duration(&c.Dedupe.TitleWindow)},
			})
		}},
		{"publish", func(n ast.Node, path string) {
			p := &c.Publish
			d.mapping(n, path, []key{
				{"max_age", d.duration(&p.MaxAge)},
				{"page_size", d.integer(&p.PageSize)},
				{"hubs", d.strs(&p.Hubs)},
				{"cache_size", d.size(&p.CacheSize)},
				{"max_subscriptions", d.integer(&p.MaxSubscriptions)},
				{"max_subscriptions_per_topic", d.integer(&p.MaxSubscriptionsPerTopic)},
			})
		}},
		{"mail", d.mail(&c.Mail)},
	})
	return c
}

func (d *decoder) source(n ast.Node, path string) feed.Source {
	var s feed.Source
	d.mapping(n, path, append([]key{
		{"id", d.str(&s.ID)},
		{"url", d.str(&s.URL)},
		{"title", d.str(&s.Title)},
		{"tags", d.strs(&s.Tags)},
		{"interval", d.duration(&s.Interval)},
		{"disabled", d.boolean(&s.Disabled)},
	}, append(d.sourceKeys(&s), key{"identity", d.str(&s.Identity)})...))
	return s
}

func (d *decoder) channel(n ast.Node, path string) feed.Channel {
	ch := feed.Channel{Limit: DefaultChannelLimit}
	d.mapping(n, path, append([]key{
		{"id", d.str(&ch.ID)},
		{"title", d.str(&ch.Title)},
		{"description", d.str(&ch.Description)},
		{"sources", d.strs(&ch.Sources)},
		{"tags", d.strs(&ch.Tags)},
		{"limit", d.integer(&ch.Limit)},
	}, d.channelKeys(&ch)...))
	return ch
}

// key is one known key of a mapping and how to decode its value. decode is
// called only for a non-null value, with anchors already stripped.
type key struct {
	name   string
	decode func(n ast.Node, path string)
}

// mapping decodes the mapping n at path: every key must be known and appear
// once. A null value (the key alone, or "~") leaves the default in place.
func (d *decoder) mapping(n ast.Node, path string, keys []key) {
	if isNull(n) {
		return
	}
	var entries []*ast.MappingValueNode
	switch m := n.(type) {
	case *ast.MappingNode:
		entries = m.Values
	case *ast.MappingValueNode:
		entries = []*ast.MappingValueNode{m}
	default:
		d.bad(n, path, fmt.Sprintf("must be a mapping with keys %s (got %s)", keyNames(keys), got(n)))
		return
	}
	seen := map[string]int{}
	for _, e := range entries {
		if e == nil || e.Key == nil {
			continue
		}
		kl := line(e.Key)
		name, ok := keyName(e.Key)
		if !ok {
			d.add(kl, path, fmt.Sprintf("keys must be plain names (got %s)", got(e.Key)))
			continue
		}
		p := child(path, name)
		if first, dup := seen[name]; dup {
			d.add(kl, p, fmt.Sprintf("duplicate key (first at line %d)", first))
			continue
		}
		seen[name] = kl
		i := slices.IndexFunc(keys, func(k key) bool { return k.name == name })
		if i < 0 {
			d.add(kl, p, "unknown key"+suggest(name, keys))
			continue
		}
		d.lines[p] = kl
		v, ok := d.value(e.Value, p)
		if !ok || isNull(v) {
			continue
		}
		d.given[p] = true
		keys[i].decode(v, p)
	}
}

// list decodes the list n at path, calling each for every entry with its
// path ("sources[3]"). An entry that fails to decode is still passed on (as
// nil), so that indexes in later problems match the file.
func (d *decoder) list(n ast.Node, path string, each func(n ast.Node, path string)) {
	seq, ok := n.(*ast.SequenceNode)
	if !ok {
		d.bad(n, path, fmt.Sprintf("must be a list such as [a, b] (got %s)", got(n)))
		return
	}
	for i, e := range seq.Values {
		p := fmt.Sprintf("%s[%d]", path, i)
		if l := line(e); l > 0 {
			d.lines[p] = l
		}
		v, ok := d.value(e, p)
		if !ok {
			v = nil
		}
		each(v, p)
	}
}

// value strips anchors from n and refuses what feeds.yaml has no use for:
// aliases and tags. It reports false after recording a problem.
func (d *decoder) value(n ast.Node, path string) (ast.Node, bool) {
	for {
		switch v := n.(type) {
		case *ast.AnchorNode:
			n = v.Value
		case *ast.AliasNode:
			d.bad(n, path, "aliases (*name) are not supported; write the value out")
			return nil, false
		case *ast.TagNode:
			d.bad(n, path, "YAML tags (!name) are not supported")
			return nil, false
		default:
			return n, true
		}
	}
}

func (d *decoder) str(dst *string) func(ast.Node, string) {
	return func(n ast.Node, path string) {
		if s, ok := d.scalar(n, path, "a string"); ok {
			*dst = s
		}
	}
}

// strs decodes a list of strings; a wrong entry is kept as "" so that
// indexes match the file.
func (d *decoder) strs(dst *[]string) func(ast.Node, string) {
	return func(n ast.Node, path string) {
		d.list(n, path, func(n ast.Node, path string) {
			s, _ := d.scalar(n, path, "a string")
			*dst = append(*dst, s)
		})
	}
}

func (d *decoder) boolean(dst *bool) func(ast.Node, string) {
	return func(n ast.Node, path string) {
		b, ok := n.(*ast.BoolNode)
		if !ok {
			d.bad(n, path, fmt.Sprintf("must be true or false (got %s)", got(n)))
			return
		}
		*dst = b.Value
	}
}

func (d *decoder) integer(dst *int) func(ast.Node, string) {
	return func(n ast.Node, path string) {
		if i, ok := n.(*ast.IntegerNode); ok {
			switch v := i.Value.(type) {
			case int64:
				if v >= math.MinInt && v <= math.MaxInt {
					*dst = int(v)
					return
				}
			case uint64:
				if v <= math.MaxInt {
					*dst = int(v)
					return
				}
			}
		}
		d.bad(n, path, fmt.Sprintf("must be a whole number (got %s)", got(n)))
	}
}

func (d *decoder) duration(dst *time.Duration) func(ast.Node, string) {
	return func(n ast.Node, path string) {
		if s, ok := n.(*ast.StringNode); ok {
			if v, err := parseDuration(s.Value); err == nil {
				*dst = v
				return
			}
		}
		d.bad(n, path, fmt.Sprintf(`must be a duration such as "90s", "30m" or "1h" (got %s)`, got(n)))
	}
}

func (d *decoder) size(dst *int64) func(ast.Node, string) {
	return func(n ast.Node, path string) {
		switch v := n.(type) {
		case *ast.IntegerNode:
			switch x := v.Value.(type) {
			case int64:
				*dst = x
				return
			case uint64:
				if x <= math.MaxInt64 {
					*dst = int64(x)
					return
				}
			}
		case *ast.StringNode:
			if x, err := parseSize(v.Value); err == nil {
				*dst = x
				return
			}
		}
		d.bad(n, path, fmt.Sprintf(`must be a size such as "10MB", "512KiB" or a number of bytes (got %s)`, got(n)))
	}
}

// scalar returns the text of a scalar: a string's value, a number's or
// boolean's text as written, "" for null. Mappings and lists are problems.
func (d *decoder) scalar(n ast.Node, path, want string) (string, bool) {
	switch v := n.(type) {
	case nil, *ast.NullNode:
		return "", true
	case *ast.StringNode:
		return v.Value, true
	case *ast.LiteralNode:
		if v.Value == nil {
			return "", true
		}
		return v.Value.Value, true
	case *ast.MappingNode, *ast.MappingValueNode, *ast.SequenceNode:
		d.bad(n, path, fmt.Sprintf("must be %s (got %s)", want, got(n)))
		return "", false
	}
	if tk := n.GetToken(); tk != nil {
		return tk.Value, true
	}
	return "", true
}

func isNull(n ast.Node) bool {
	if n == nil {
		return true
	}
	_, ok := n.(*ast.NullNode)
	return ok
}

// line returns the 1-based line n starts on, 0 when unknown.
func line(n ast.Node) int {
	if n == nil {
		return 0
	}
	switch v := n.(type) {
	case *ast.MappingNode:
		if v == nil {
			return 0
		}
		if v.Start == nil && len(v.Values) > 0 {
			return line(v.Values[0])
		}
	case *ast.MappingValueNode:
		if v == nil {
			return 0
		}
		return line(v.Key)
	}
	tk := n.GetToken()
	if tk == nil || tk.Position == nil {
		return 0
	}
	return tk.Position.Line
}

// keyName returns the name of a plain mapping key.
func keyName(k ast.MapKeyNode) (string, bool) {
	switch v := k.(type) {
	case *ast.StringNode:
		return v.Value, true
	case *ast.MappingKeyNode: // "? name"
		if s, ok := v.Value.(*ast.StringNode); ok {
			return s.Value, true
		}
		return "", false
	case *ast.AnchorNode: // "&a name"
		if s, ok := v.Value.(*ast.StringNode); ok {
			return s.Value, true
		}
		return "", false
	case *ast.AliasNode, *ast.TagNode:
		return "", false
	}
	if tk := k.GetToken(); tk != nil {
		return tk.Value, true
	}
	return "", false
}

// got describes a value for a message: a quoted string, a number or
// boolean as written, or the kind of a collection.
func got(n ast.Node) string {
	switch v := n.(type) {
	case nil, *ast.NullNode:
		return "nothing"
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.StringNode:
		return strconv.Quote(v.Value)
	case *ast.LiteralNode:
		if v.Value != nil {
			return strconv.Quote(v.Value.Value)
		}
		return `""`
	case *ast.AliasNode:
		return "an alias"
	case *ast.AnchorNode:
		return got(v.Value)
	case *ast.TagNode:
		return "a tagged value"
	case *ast.MappingKeyNode:
		return "a complex key"
	}
	if tk := n.GetToken(); tk != nil {
		return tk.Value
	}
	return "a value"
}

func keyNames(keys []key) string {
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.name
	}
	return strings.Join(names, ", ")
}

// suggest returns " (did you mean "x"?)" for an unknown key close to a
// known one, else the list of known keys.
func suggest(name string, keys []key) string {
	best, bestDist := "", 3
	for _, k := range keys {
		if dist := editDistance(strings.ToLower(name), k.name); dist < bestDist {
			best, bestDist = k.name, dist
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return " (known keys: " + keyNames(keys) + ")"
}

// editDistance is the Levenshtein distance between a and b, in bytes;
// keys are short ASCII words.
func editDistance(a, b string) int {
	if len(a) > 64 {
		return len(a)
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
