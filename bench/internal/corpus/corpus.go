// Package corpus turns the shared corpus of real feeds into the bodies the
// benchmark origin serves: source n serves real file n mod len(files), with
// its titles and links made unique to n, so that a thousand sources built
// from 77 files are a thousand different feeds (no cross-source merging, and
// every item counted once). The origin and the parse-only anchor both take
// their bytes from here, so they see the same bytes.
package corpus

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// File is one real feed of the corpus.
type File struct {
	Name        string // path under real/
	Body        []byte
	ContentType string
}

// Dir returns the corpus directory: $AGGREGATOR_CORPUS, else
// ../shared/corpus relative to the module root root.
func Dir(root string) string {
	if d := os.Getenv("AGGREGATOR_CORPUS"); d != "" {
		return d
	}
	return filepath.Join(root, "..", "shared", "corpus")
}

// Load reads every file under dir/real, sorted by path.
func Load(dir string) ([]File, error) {
	real := filepath.Join(dir, "real")
	var files []File
	err := filepath.WalkDir(real, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		name, _ := filepath.Rel(real, path)
		ct := "application/xml"
		if strings.HasSuffix(name, ".json") {
			ct = "application/feed+json"
		}
		files = append(files, File{Name: name, Body: body, ContentType: ct})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load corpus %s: %w", real, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("load corpus %s: no files", real)
	}
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	return files, nil
}

// Smallest returns the index of the smallest file with at least one item
// marker; the 304 sources serve it, since only their first poll reads a body.
func Smallest(files []File) int {
	best := -1
	for i, f := range files {
		if !bytes.Contains(f.Body, []byte("<entry")) && !bytes.Contains(f.Body, []byte("<item")) {
			continue
		}
		if best < 0 || len(f.Body) < len(files[best].Body) {
			best = i
		}
	}
	return max(best, 0)
}

var (
	// the start of a title's text, in XML and in JSON
	xmlTitle  = regexp.MustCompile(`<title(?:\s[^>]*)?>`)
	jsonTitle = regexp.MustCompile(`"title"\s*:\s*"`)
	// an absolute URL at the start of a link, guid or id, or in a link's href
	xmlURL  = regexp.MustCompile(`(<(?:link|guid|id)(?:\s[^>]*)?>\s*|<link\b[^>]*?\bhref\s*=\s*["'])(https?://)`)
	jsonURL = regexp.MustCompile(`("(?:id|url|external_url)"\s*:\s*")(https?:(?:\\?/){2})`)
)

// Template is a file split where Unique inserts a source's tag, so that
// making a thousand bodies costs copies, not regular-expression scans.
type Template struct {
	parts [][]byte // the file's bytes between insertion points
	seps  []string // after parts[i], the tag and then seps[i] (" " or ".")
}

// NewTemplate finds the insertion points of body: after the start of every
// title, and after the scheme of every absolute link, guid and id (in XML
// elements and hrefs, and in JSON Feed's id, url and external_url).
func NewTemplate(body []byte) Template {
	title, url := xmlTitle, xmlURL
	if isJSON(body) {
		title, url = jsonTitle, jsonURL
	}
	type point struct {
		at  int
		sep string
	}
	var pts []point
	for _, m := range title.FindAllIndex(body, -1) {
		pts = append(pts, point{m[1], " "})
	}
	for _, m := range url.FindAllSubmatchIndex(body, -1) {
		pts = append(pts, point{m[5], "."})
	}
	slices.SortFunc(pts, func(a, b point) int { return a.at - b.at })
	t := Template{}
	prev := 0
	for _, p := range pts {
		t.parts = append(t.parts, body[prev:p.at])
		t.seps = append(t.seps, p.sep)
		prev = p.at
	}
	t.parts = append(t.parts, body[prev:])
	return t
}

// Unique returns the file with every title prefixed by "s<n> " and every
// absolute link, guid and id given the host prefix "s<n>.", so items of
// different sources never share a link, an id or a title.
func (t Template) Unique(n int) []byte {
	tag := "s" + strconv.Itoa(n)
	size := 0
	for _, p := range t.parts {
		size += len(p) + len(tag) + 1
	}
	out := make([]byte, 0, size)
	for i, p := range t.parts {
		out = append(out, p...)
		if i < len(t.seps) {
			out = append(out, tag...)
			out = append(out, t.seps[i]...)
		}
	}
	return out
}

// Unique is NewTemplate(body).Unique(n).
func Unique(body []byte, n int) []byte { return NewTemplate(body).Unique(n) }

func isJSON(body []byte) bool {
	b := bytes.TrimLeft(bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")), " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}

// Set is the bodies of many sources built from the same files.
type Set struct {
	files []File
	tmpl  []Template
}

// NewSet prepares the files' templates.
func NewSet(files []File) *Set {
	s := &Set{files: files, tmpl: make([]Template, len(files))}
	for i, f := range files {
		s.tmpl[i] = NewTemplate(f.Body)
	}
	return s
}

// Len is the number of distinct files.
func (s *Set) Len() int { return len(s.files) }

// Body is what source n serves: file n mod Len(), made unique to n.
func (s *Set) Body(n int) (body []byte, contentType string) {
	i := n % len(s.files)
	return s.tmpl[i].Unique(n), s.files[i].ContentType
}

// Only returns the bodies of file i alone (for the 304 sources).
func (s *Set) Only(i int) *Set {
	return &Set{files: s.files[i : i+1], tmpl: s.tmpl[i : i+1]}
}

// ETag is a strong entity tag for body.
func ETag(body []byte) string {
	h := fnv.New64a()
	h.Write(body)
	return fmt.Sprintf(`"%016x"`, h.Sum64())
}

// Host returns the loopback address of host h (0 ≤ h < 250*254): 127.0.x.y
// with x from 1 and y in 1..250, clear of 127.0.0.1.
func Host(h int) string {
	return fmt.Sprintf("127.0.%d.%d", 1+h/250, 1+h%250)
}
