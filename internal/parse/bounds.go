package parse

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"

	"golang.org/x/sync/semaphore"
)

// Limits on the structure of a document, checked before gofeed reads it.
// gofeed builds a tree node with two maps for every element it does not
// know, recursively and without a depth limit: a few million nested
// elements overflow the goroutine stack (a fatal error that no recover
// catches), 1.4 million nested ones take 25 s and 1.4 GB, and a few hundred
// thousand flat ones cost seconds and hundreds of megabytes. No real feed
// comes near: the corpus nests 12 deep at most and holds at most 5,406
// elements in one document (540 KB); a dense 10 MB feed would hold about
// 100,000.
const (
	// MaxDepth is how deep XML elements, or JSON objects and arrays, may
	// nest (libxml2's default limit is the same).
	MaxDepth = 256
	// MaxElements is how many XML elements, or JSON objects and arrays, one
	// document may hold: 20 for each of MaxItemsPerFeed items.
	MaxElements = 200_000
)

// ErrTooComplex is wrapped by the error Parse returns when a document is
// refused before parsing because of its structure: nested deeper than
// MaxDepth or holding more than MaxElements elements.
var ErrTooComplex = errors.New("document too complex to parse")

// What gofeed 1.4.2 holds on the heap while it parses, measured: about 800
// bytes for each empty RSS item, 300 for each unknown element and 350 for
// each element of an ordinary item, and 9.4 bytes for each byte of text.
// These bound the estimate a parse must reserve from the Parser's budget.
const (
	elementCost = 1 << 10
	byteCost    = 10
	// DefaultMemoryBudget bounds the estimated heap of the parses that
	// one Parser runs at once. A document at MaxElements reserves about
	// 200 MiB, so two or three such run together and the rest wait;
	// ordinary feeds (a few MiB each) never wait.
	DefaultMemoryBudget = 512 << 20
)

// budget admits parses while the estimated memory of those in flight stays
// within its size. A document estimated above the size waits until it can
// run alone.
type budget struct {
	sem  *semaphore.Weighted
	size int64
}

func newBudget(size int64) *budget {
	return &budget{sem: semaphore.NewWeighted(size), size: size}
}

// acquire reserves the estimate for a document of the given size and
// element count, waiting while ctx allows, and returns the function that
// gives it back.
func (b *budget) acquire(ctx context.Context, size, elements int) (release func(), err error) {
	n := min(int64(elements)*elementCost+int64(size)*byteCost, b.size)
	if err := b.sem.Acquire(ctx, n); err != nil {
		return nil, fmt.Errorf("waiting for parse memory: %w", err)
	}
	return func() { b.sem.Release(n) }, nil
}

// checkEvery is how many tokens the structure checks read between two
// looks at their context.
const checkEvery = 4096

// checkXML reads text (UTF-8) with the tokenizer gofeed's parsers use,
// configured alike (encoding/xml, not strict), and returns how many
// elements it holds. It returns an error wrapping ErrTooComplex at the first
// element that nests deeper than MaxDepth or goes past MaxElements, and
// ctx's error when ctx ends first. Malformed XML is not its concern: it
// stops without error where the tokenizer fails, since gofeed stops there
// too, and leaves the error to gofeed.
//
// It keeps the names of the open elements because that decoder, not being
// strict, lets an end tag close every open element up to the nearest one of
// its local name: the depth is the decoder's, not a count of tags.
//
// Most documents are let through by boundXML's scan of their bytes alone
// (under 0.08 s of a cold ingest's profile where the tokenizer had taken
// 1.74 s); only those it cannot bound within the limits are tokenized.
func checkXML(ctx context.Context, text []byte) (int, error) {
	if depth, elements, ok := boundXML(text); ok && depth <= MaxDepth && elements <= MaxElements {
		return elements, nil
	}
	return checkXMLWithin(ctx, text, MaxDepth, MaxElements)
}

// boundXML scans text for the markup the tokenizer of checkXML would
// read and returns bounds on it: no element the tokenizer reads nests
// deeper than depth, and it reads at most elements elements. It reports
// false, bounding nothing, for a document holding a directive other than a
// comment or CDATA (a DOCTYPE, whose internal subset could define
// entities), where it does not follow the tokenizer.
//
// It reads markup as the tokenizer does up to the first point where the
// tokenizer fails (counts past that point only make the bounds larger):
// text runs to the next '<'; a comment ends at its first "--" and a CDATA
// section at its first "]]>", a processing instruction at its first "?>",
// an end tag at its first '>'; a start tag ends at the first '>' outside
// the quotes of an attribute value, and is empty ("<a/>", closed as it
// opens) when a '/' comes just before. Each end tag closes one element
// here and at least one for the tokenizer, which lets an end tag close
// every open element up to one of its name.
func boundXML(text []byte) (depth, elements int, ok bool) {
	open := 0
	for i := 0; ; {
		j := bytes.IndexByte(text[i:], '<')
		if j < 0 || i+j+1 >= len(text) {
			return depth, elements, true
		}
		i += j + 1
		var end int
		switch rest := text[i:]; {
		case rest[0] == '/':
			end = bytes.IndexByte(rest, '>')
			open = max(open-1, 0)
		case rest[0] == '?':
			end = bytes.Index(rest, []byte("?>"))
		case bytes.HasPrefix(rest, []byte("!--")):
			if end = bytes.Index(rest[3:], []byte("--")); end >= 0 {
				end += 3
			}
		case bytes.HasPrefix(rest, []byte("![CDATA[")):
			end = bytes.Index(rest, []byte("]]>"))
		case rest[0] == '!':
			return 0, 0, false
		default:
			elements++
			var empty bool
			end, empty = startTagEnd(rest)
			depth = max(depth, open+1)
			if !empty {
				open++
			}
		}
		if end < 0 {
			return depth, elements, true // unterminated: the tokenizer fails here
		}
		i += end + 1
	}
}

// startTagEnd returns the index in rest (a start tag after its '<') of the
// '>' that ends it, or -1, and whether a '/' comes just before.
func startTagEnd(rest []byte) (int, bool) {
	for k := 0; k < len(rest); k++ {
		switch c := rest[k]; c {
		case '>':
			return k, k > 0 && rest[k-1] == '/'
		case '"', '\'':
			q := bytes.IndexByte(rest[k+1:], c)
			if q < 0 {
				return -1, false
			}
			k += q + 1
		}
	}
	return -1, false
}

func checkXMLWithin(ctx context.Context, text []byte, maxDepth, maxElements int) (int, error) {
	d := xml.NewDecoder(bytes.NewReader(text))
	d.Strict = false
	d.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil } // already UTF-8
	var open []xml.Name
	elements := 0
	for i := 1; ; i++ {
		if i%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return elements, err
			}
		}
		tok, err := d.RawToken()
		switch t := tok.(type) {
		case xml.StartElement:
			elements++
			if len(open) == maxDepth {
				line, _ := d.InputPos()
				return elements, fmt.Errorf("%w: elements nest deeper than %d (line %d)", ErrTooComplex, maxDepth, line)
			}
			if elements > maxElements {
				line, _ := d.InputPos()
				return elements, fmt.Errorf("%w: more than %d elements (line %d)", ErrTooComplex, maxElements, line)
			}
			open = append(open, t.Name)
		case xml.EndElement:
			j := len(open) - 1
			for j >= 0 && open[j].Local != t.Name.Local {
				j--
			}
			if j < 0 || open[j].Space != t.Name.Space {
				return elements, nil // the decoder's syntax error: gofeed reads no further
			}
			open = open[:j]
		}
		if err != nil {
			return elements, nil
		}
	}
}

// checkJSON returns how many objects and arrays text holds, or an error
// wrapping ErrTooComplex at the first that nests deeper than MaxDepth or
// goes past MaxElements. Valid JSON needs no tokenizer to be read exactly:
// outside strings, every '{' and '[' opens a container. It runs before
// anything decodes the JSON; on invalid JSON its count is only an estimate,
// and the decoder's error follows.
func checkJSON(text []byte) (int, error) {
	depth, elements := 0, 0
	inString, escaped := false, false
	for i, c := range text {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			elements++
			if depth > MaxDepth {
				return elements, fmt.Errorf("%w: objects and arrays nest deeper than %d (byte %d)", ErrTooComplex, MaxDepth, i)
			}
			if elements > MaxElements {
				return elements, fmt.Errorf("%w: more than %d objects and arrays (byte %d)", ErrTooComplex, MaxElements, i)
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return elements, nil
}

// budgetReader is a reader of text that fails once ctx is done, so that
// gofeed, which takes no context, stops at its next read. encoding/xml
// reads it through a 4 KB buffer.
type budgetReader struct {
	ctx context.Context
	r   *bytes.Reader
}

func newBudgetReader(ctx context.Context, text []byte) io.Reader {
	return budgetReader{ctx, bytes.NewReader(text)}
}

func (b budgetReader) Read(p []byte) (int, error) {
	if err := b.ctx.Err(); err != nil {
		return 0, err
	}
	return b.r.Read(p)
}
