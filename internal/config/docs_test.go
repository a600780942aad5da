package config

// Tests of the documentation. They live here because the first of them
// asks the decoder which keys feeds.yaml has; the others check the
// repository's Markdown (README.md and docs/) as a whole, and sit beside it
// rather than in a package of their own.

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/kpolicy/aggregator/internal/feed"
)

// repoRoot is the repository root, seen from this package's directory.
const repoRoot = "../.."

const configDoc = "docs/configuration.md"

// probeKey is a key no mapping of feeds.yaml has, far (in edit distance)
// from every real key, so that the decoder's "unknown key" problem lists
// all the keys it knows instead of suggesting one.
const probeKey = "zzzzzzzzzzzzzzzz"

// decodedKeys asks the decoder for every key of feeds.yaml that holds a
// value, as its full YAML path with "[]" for list entries
// ("fetch.host_gap", "sources[].keep.items"). It walks the decoder itself:
// at each mapping it puts probeKey and reads the known keys from the
// problem, then tries each key as a mapping and as a list of mappings.
// Keys that hold neither (strings, durations, lists of strings, rules) are
// the leaves returned.
func decodedKeys(t *testing.T) []string {
	t.Helper()
	var leaves []string
	var walk func(path []string)
	walk = func(path []string) {
		for _, k := range knownKeys(t, path) {
			p := append(slices.Clone(path), k)
			if knownKeys(t, p) != nil {
				walk(p)
				continue
			}
			l := append(slices.Clone(path), k+"[]")
			if knownKeys(t, l) != nil {
				walk(l)
				continue
			}
			leaves = append(leaves, strings.Join(p, "."))
		}
	}
	walk(nil)
	return leaves
}

// knownKeys parses a file that puts the mapping {probeKey: 0} at path and
// returns the keys the decoder says it knows there, or nil when the value
// at path is not decoded as a mapping.
func knownKeys(t *testing.T, path []string) []string {
	t.Helper()
	doc := "{" + probeKey + ": 0}"
	want := probeKey
	for i := len(path) - 1; i >= 0; i-- {
		name, list := strings.CutSuffix(path[i], "[]")
		if list {
			doc = "[" + doc + "]"
			want = name + "[0]." + want
		} else {
			want = name + "." + want
		}
		doc = "{" + name + ": " + doc + "}"
	}
	_, err := Parse(strings.NewReader(doc), "probe.yaml")
	for _, p := range Problems(err) {
		if p.Path != want {
			continue
		}
		list, ok := strings.CutPrefix(p.Msg, "unknown key (known keys: ")
		if !ok || !strings.HasSuffix(list, ")") {
			t.Fatalf("%s: the decoder says %q; this test reads the known keys from \"unknown key (known keys: a, b)\": update knownKeys", want, p.Msg)
		}
		return strings.Split(strings.TrimSuffix(list, ")"), ", ")
	}
	return nil
}

// TestConfigKeysDocumented fails when a key the decoder accepts has no row
// in a table of docs/configuration.md: its full path in backquotes in the
// row's first cell.
func TestConfigKeysDocumented(t *testing.T) {
	keys := decodedKeys(t)
	t.Logf("the decoder knows %d keys: %s", len(keys), strings.Join(keys, " "))
	// The walk must reach the nested keys, not only the top level: these
	// three cover a mapping, a mapping in a mapping and one in a list.
	for _, k := range []string{"fetch.host_gap", "storage.keep.items", "sources[].keep.items"} {
		if !slices.Contains(keys, k) {
			t.Fatalf("the decoder walk found %v, not %s: decodedKeys no longer reaches every key", keys, k)
		}
	}
	doc := readDoc(t, configDoc)
	documented := rowKeys(doc)
	for _, k := range keys {
		if !documented[k] {
			t.Errorf("config key %s is decoded (internal/config/decode.go) but not documented: "+
				"add a row | `%s` | type | default | meaning | to the table of section %q in %s",
				k, k, k[:strings.IndexAny(k+".", ".[")], configDoc)
		}
	}

	rules := rowKeys(section(t, doc, "Rule fields"))
	for _, f := range feed.RuleFields {
		if !rules[f] {
			t.Errorf("rule field %s (feed.RuleFields, decoded in internal/config/curate.go) is not documented: "+
				"add a row | `%s` | … | to the table under \"Rule fields\" in %s", f, f, configDoc)
		}
	}
}

// rowKeys returns what the tables of doc document: every `quoted` word in
// the first cell of a table row. A key named only in prose is not
// documented.
func rowKeys(doc string) map[string]bool {
	keys := map[string]bool{}
	for _, line := range strings.Split(doc, "\n") {
		cells := strings.Split(line, "|")
		if !strings.HasPrefix(line, "|") || len(cells) < 3 {
			continue
		}
		for _, m := range quoted.FindAllStringSubmatch(cells[1], -1) {
			keys[m[1]] = true
		}
	}
	return keys
}

var quoted = regexp.MustCompile("`([^`]+)`")

// section returns the text under the Markdown heading named title, up to
// the next heading of the same or a higher level.
func section(t *testing.T, doc, title string) string {
	t.Helper()
	lines := strings.Split(doc, "\n")
	for i, l := range lines {
		level, text := heading(l)
		if level == 0 || text != title {
			continue
		}
		end := len(lines)
		for j := i + 1; j < len(lines); j++ {
			if lv, _ := heading(lines[j]); lv > 0 && lv <= level {
				end = j
				break
			}
		}
		return strings.Join(lines[i+1:end], "\n")
	}
	t.Fatalf("%s has no heading %q", configDoc, title)
	return ""
}

// heading returns the level and text of an ATX heading line, 0 for any
// other line.
func heading(line string) (int, string) {
	n := 0
	for n < len(line) && line[n] == '#' {
		n++
	}
	if n == 0 || n > 6 || (len(line) > n && line[n] != ' ') {
		return 0, ""
	}
	return n, strings.TrimSpace(strings.TrimRight(line[n:], "#"))
}

// markdownFiles are the documents whose links are checked: README.md and
// every page of docs/.
func markdownFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no docs/*.md under %s", repoRoot)
	}
	return append([]string{filepath.Join(repoRoot, "README.md")}, files...)
}

var (
	fence      = regexp.MustCompile("^\\s*(```|~~~)")
	codeSpan   = regexp.MustCompile("`+[^`]*`+")
	inlineLink = regexp.MustCompile(`\]\(([^)\s]+)(?:\s+"[^"]*")?\)`)
	refLink    = regexp.MustCompile(`^\s*\[[^\]]+\]:\s*(\S+)`)
	scheme     = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:`)
	linkText   = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
)

// TestDocLinks fails when a relative link in README.md or docs/*.md names
// a file that does not exist, or an #anchor that is no heading of its
// target. Links to other sites are not followed.
func TestDocLinks(t *testing.T) {
	anchors := map[string]map[string]bool{} // file → heading anchors
	anchorsOf := func(file string) map[string]bool {
		if a, ok := anchors[file]; ok {
			return a
		}
		a := headingAnchors(readFile(t, file))
		anchors[file] = a
		return a
	}
	for _, file := range markdownFiles(t) {
		rel, _ := filepath.Rel(repoRoot, file)
		inCode := false
		for n, line := range strings.Split(readFile(t, file), "\n") {
			if fence.MatchString(line) {
				inCode = !inCode
				continue
			}
			if inCode {
				continue
			}
			var targets []string
			for _, m := range inlineLink.FindAllStringSubmatch(codeSpan.ReplaceAllString(line, ""), -1) {
				targets = append(targets, m[1])
			}
			if m := refLink.FindStringSubmatch(line); m != nil {
				targets = append(targets, m[1])
			}
			for _, target := range targets {
				if scheme.MatchString(target) || strings.HasPrefix(target, "//") {
					continue
				}
				where := fmt.Sprintf("%s:%d: link %q", rel, n+1, target)
				path, anchor, _ := strings.Cut(target, "#")
				dest := file
				if path != "" {
					dest = filepath.Join(filepath.Dir(file), filepath.FromSlash(path))
					if _, err := os.Stat(dest); err != nil {
						t.Errorf("%s: no such file or directory", where)
						continue
					}
				}
				if anchor == "" {
					continue
				}
				if !strings.HasSuffix(dest, ".md") {
					t.Errorf("%s: an #anchor needs a Markdown file", where)
					continue
				}
				if !anchorsOf(dest)[anchor] {
					t.Errorf("%s: %s has no heading with anchor #%s", where, filepath.Base(dest), anchor)
				}
			}
		}
		if inCode {
			t.Errorf("%s: a code fence is never closed", rel)
		}
	}
}

// headingAnchors returns the anchors GitHub gives the headings of a
// Markdown document: the text in lower case, without punctuation, spaces
// as "-", and "-1", "-2"… after repeats.
func headingAnchors(doc string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	inCode := false
	for _, line := range strings.Split(doc, "\n") {
		if fence.MatchString(line) {
			inCode = !inCode
			continue
		}
		level, text := heading(line)
		if inCode || level == 0 {
			continue
		}
		text = linkText.ReplaceAllString(text, "$1")
		var b strings.Builder
		for _, r := range strings.ToLower(text) {
			switch {
			case r == ' ':
				b.WriteByte('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsMark(r):
				b.WriteRune(r)
			}
		}
		a := b.String()
		if n := seen[a]; n > 0 {
			out[fmt.Sprintf("%s-%d", a, n)] = true
		} else {
			out[a] = true
		}
		seen[a]++
	}
	return out
}

func TestHeadingAnchors(t *testing.T) {
	got := headingAnchors("# aggregator\n## `fetch`\n### History: archive pages (RFC 5005)\n```\n# not a heading\n```\n## Tests\n## Tests\n")
	for _, want := range []string{"aggregator", "fetch", "history-archive-pages-rfc-5005", "tests", "tests-1"} {
		if !got[want] {
			t.Errorf("anchor %q missing from %v", want, got)
		}
	}
	if got["not-a-heading"] {
		t.Errorf("a line in a code block made an anchor: %v", got)
	}
}

// TestLayoutListsEveryPackage fails when a Go package under cmd/, internal/
// or bench/ is missing from the layout table of docs/README.md.
func TestLayoutListsEveryPackage(t *testing.T) {
	layout := readDoc(t, "docs/README.md")
	var missing []string
	for _, top := range []string{"cmd", "internal", "bench"} {
		err := filepath.WalkDir(filepath.Join(repoRoot, top), func(path string, d os.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return err
			}
			if d.Name() == "testdata" || (strings.HasPrefix(d.Name(), ".") && path != repoRoot) {
				return filepath.SkipDir
			}
			gofiles, _ := filepath.Glob(filepath.Join(path, "*.go"))
			if len(gofiles) == 0 {
				return nil
			}
			rel, _ := filepath.Rel(repoRoot, path)
			if pkg := filepath.ToSlash(rel); !strings.Contains(layout, "`"+pkg+"`") {
				missing = append(missing, pkg)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, pkg := range missing {
		t.Errorf("package %s is not in the layout table of docs/README.md: add | `%s` | what it owns (its package doc comment) |", pkg, pkg)
	}
}

// readDoc reads a file given by its path from the repository root.
func readDoc(t *testing.T, rel string) string {
	t.Helper()
	return readFile(t, filepath.Join(repoRoot, filepath.FromSlash(rel)))
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
