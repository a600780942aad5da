package htmlguard

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// treeCost is what x/net/html really builds of page: the nesting of its
// elements below <html> and <body>, and its nodes.
func treeCost(t *testing.T, page []byte) (depth, nodes int, err error) {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		return 0, 0, err
	}
	var walk func(n *html.Node, d int)
	walk = func(n *html.Node, d int) {
		switch n.Type {
		case html.ElementNode:
			d++
			depth = max(depth, d-2)
			nodes++
		case html.TextNode, html.CommentNode:
			nodes++
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, d)
		}
	}
	walk(doc, 0)
	return depth, nodes, nil
}

// bomb is 300 distinct <b> left open in a <div>, then n times
// "<div>x</div>": the builder re-creates the 300 in every div.
func bomb(n int) []byte {
	var b strings.Builder
	b.WriteString("<html><body><div>")
	for i := range 300 {
		fmt.Fprintf(&b, "<b id=%d>", i)
	}
	b.WriteString("</div>")
	b.WriteString(strings.Repeat("<div>x</div>", n))
	return []byte(b.String())
}

// distinctOpen leaves three distinct formatting elements open in each of n
// divs: each is re-created in the next div, which nests them ever deeper.
func distinctOpen(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "<div><i class=a%d><b class=b%d><u class=c%d></div>", i, i, i)
	}
	return b.String()
}

func TestCheckRefusesCostlyTrees(t *testing.T) {
	tests := []struct {
		name, page, want string
	}{
		{"2,000,000 nested divs", "<html><body>" + strings.Repeat("<div>", 2_000_000) + "x", "nested more than 512 deep"},
		{"unclosed formatting re-created in every div", string(bomb(4000)), "more than 250000 nodes"},
		{"500 deep then 400,000 paragraphs", strings.Repeat("<div>", 500) + strings.Repeat("<p>a</p>", 400_000), "steps of tree building"},
		{"300,000 empty spans", strings.Repeat("<span></span>", 300_000), "more than 250000 nodes"},
		{"500 spans deep then a million stray end tags", strings.Repeat("<span>", 500) + strings.Repeat("</x>", 1_000_000), "steps of tree building"},
		{"600 formatting elements left open in turn", distinctOpen(200) + "x", "nested more than 512 deep"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			err := Check([]byte(tt.page))
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrTooComplex) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err=%v, want ErrTooComplex saying %q", err, tt.want)
			}
			// The tokenizer alone: a few MiB whatever the page would build.
			if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(64<<20); got > limit {
				t.Errorf("Check allocated %d MiB, want at most %d", got>>20, limit>>20)
			}
		})
	}
}

// TestBombsCostTheRealParser shows that the pages refused are costly for
// x/net/html indeed (on a smaller scale, to keep the test quick), so that
// the bounds are not guarding against nothing.
func TestBombsCostTheRealParser(t *testing.T) {
	_, nodes, err := treeCost(t, bomb(400))
	if err != nil {
		t.Fatal(err)
	}
	if nodes < 400*300 {
		t.Fatalf("a %d-byte page built %d nodes; the re-creation of formatting elements is not what Check guards against", len(bomb(400)), nodes)
	}
	est, err := Measure(bomb(400))
	if err != nil || est.Nodes < nodes {
		t.Fatalf("Measure=%+v, %v: want an estimate of at least the %d nodes built", est, err, nodes)
	}
	for _, page := range []string{strings.Repeat("<div>", 2_000_000), distinctOpen(200) + "x"} {
		if _, err := html.Parse(strings.NewReader(page)); err == nil {
			t.Fatalf("x/net/html parsed %.40q…: its own depth limit is gone, check MaxDepth", page)
		}
	}
}

// realPages are pages made like real ones: the listings of testdata, a
// long table of an old Korean board (cells, rows and <font> never
// closed), a long list with unclosed <li> and <p>, and nested tables.
func realPages(t *testing.T) map[string][]byte {
	t.Helper()
	pages := map[string][]byte{}
	files, _ := filepath.Glob("../scrape/testdata/*.html")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		pages[filepath.Base(f)] = b
	}
	if len(pages) == 0 {
		t.Fatal("no pages in ../scrape/testdata")
	}
	var b strings.Builder
	b.WriteString("<html><body><table><tr><th>번호<th>제목<th>글쓴이")
	for i := range 5000 {
		fmt.Fprintf(&b, "\n<tr><td>%d<td><a href=view?id=%d><font color=#333>글 %d</a><td><font size=2><b>이름", i, i, i)
	}
	b.WriteString("</table>")
	pages["old board, 5000 rows"] = []byte(b.String())

	b.Reset()
	b.WriteString("<ul>")
	for i := range 5000 {
		fmt.Fprintf(&b, "<li><p>item %d<p><a href=/%d>more</a>", i, i)
	}
	pages["list, 5000 unclosed li"] = []byte(b.String())

	b.Reset()
	for range 100 {
		b.WriteString("<table><tr><td><div><table><tr><td><span>x</table></div></table>")
	}
	pages["nested tables"] = []byte(b.String())
	return pages
}

func TestCheckAcceptsRealPages(t *testing.T) {
	for name, page := range realPages(t) {
		t.Run(name, func(t *testing.T) {
			est, err := Measure(page)
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			depth, nodes, err := treeCost(t, page)
			if err != nil {
				t.Fatal(err)
			}
			// An estimate from above, or the bounds guard nothing; but
			// not wildly above, or real pages would be refused.
			if est.Nodes < nodes || est.Nodes > 3*nodes+10 {
				t.Errorf("estimated %d nodes, the tree has %d", est.Nodes, nodes)
			}
			if est.Depth < depth || est.Depth > 2*depth+10 {
				t.Errorf("estimated depth %d, the tree's is %d", est.Depth, depth)
			}
			t.Logf("%d bytes: estimate %+v, tree depth %d, %d nodes", len(page), est, depth, nodes)
		})
	}
}

// FuzzMeasure checks that Measure never fails on any input and that its
// estimate bounds the tree x/net/html builds of what it accepts.
func FuzzMeasure(f *testing.F) {
	f.Add([]byte("<div><b>x</div>y<p>z"))
	f.Add([]byte("<table><tr><td><font>a<td>b</table><b><i>c</b>d</i>"))
	f.Add([]byte("<a href=1>x<a href=2>y<p>z</a>"))
	f.Add([]byte("<svg><path/><g><rect/></g></svg><select><option>a<option>b</select>"))
	f.Fuzz(func(t *testing.T, page []byte) {
		est, err := Measure(page)
		if err != nil {
			if !errors.Is(err, ErrTooComplex) {
				t.Fatalf("err=%v, want ErrTooComplex", err)
			}
			return
		}
		depth, nodes, err := treeCost(t, page)
		if err != nil {
			return // x/net refuses it itself
		}
		if nodes > 2*est.Nodes+16 || depth > 2*est.Depth+16 {
			t.Fatalf("estimate %+v, the tree has depth %d and %d nodes", est, depth, nodes)
		}
	})
}
