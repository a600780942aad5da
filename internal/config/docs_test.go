package config

// Tests of the documentation: every key the decoder accepts is documented
// in docs/configuration.md. The key list is asked of the decoder itself.

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

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
