package main

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/mmcdole/gofeed"

	"github.com/kpolicy/aggregator/bench/internal/corpus"
)

// runQueries writes the search load: a wrk script that asks /search for
// words drawn from the corpus's item titles, each occurrence equally likely
// (so common words come up as often as in the news, and rare ones too),
// one or two words a query, in a fixed order from a fixed seed so that two
// runs ask the same.
func runQueries(args []string) error {
	fs := flag.NewFlagSet("queries", flag.ContinueOnError)
	dir := fs.String("corpus", corpus.Dir("."), "corpus directory (holds real/)")
	n := fs.Int("n", 1000, "queries")
	out := fs.String("lua", "", "write the wrk script here")
	format := fs.String("format", "", `"json" asks for the JSON results, else the HTML page`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	files, err := corpus.Load(*dir)
	if err != nil {
		return err
	}
	var words []string
	p := gofeed.NewParser()
	for _, f := range files {
		parsed, err := p.Parse(bytes.NewReader(f.Body))
		if err != nil {
			continue
		}
		for _, it := range parsed.Items {
			words = append(words, titleWords(it.Title)...)
		}
	}
	if len(words) == 0 {
		return fmt.Errorf("no title words in %s", *dir)
	}
	paths := queryPaths(words, *n, *format)
	if err := os.WriteFile(*out, []byte(wrkScript(paths)), 0o644); err != nil {
		return err
	}
	fmt.Printf("search.queries %d\nsearch.words %d\n", len(paths), len(words))
	return nil
}

// titleWords splits a title into the words a reader might search for: runs
// of letters and digits of two characters or more, not only digits.
func titleWords(title string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(strings.ToLower(title), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) }) {
		if utf8.RuneCountInString(w) < 2 || strings.TrimFunc(w, unicode.IsDigit) == "" {
			continue
		}
		out = append(out, w)
	}
	return out
}

// queryPaths draws n queries from words: a quarter of them two words.
func queryPaths(words []string, n int, format string) []string {
	r := rand.New(rand.NewPCG(17, 17))
	paths := make([]string, n)
	for i := range paths {
		q := words[r.IntN(len(words))]
		if i%4 == 3 {
			q += " " + words[r.IntN(len(words))]
		}
		v := url.Values{"q": {q}}
		if format != "" {
			v.Set("format", format)
		}
		paths[i] = "/search?" + v.Encode()
	}
	return paths
}

// wrkScript is a wrk Lua script that requests the paths in turn; each of
// wrk's threads starts at another place in the list.
func wrkScript(paths []string) string {
	var b strings.Builder
	b.WriteString("local paths = {\n")
	for _, p := range paths {
		fmt.Fprintf(&b, "  %q,\n", p) // URL-encoded: ASCII, no escapes Lua and Go disagree on
	}
	b.WriteString(`}
local i = 0
local counter = 0
setup = function(thread)
  counter = counter + 1
  thread:set("first", counter * 7919)
end
init = function()
  i = first or 0
end
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
`)
	return b.String()
}
