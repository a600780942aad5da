package parse

import "strings"

// mayHaveRelativeURL reports whether s may hold a URL attribute (one of
// urlAttrs) whose value absoluteURLs would resolve. It looks at each "="
// instead of tokenizing, and errs towards true: it is false only when every
// "=" that follows href, src, cite or poster (in any case, spaces allowed
// between) is followed, after optional spaces and quote, by http://,
// https://, mailto: or #, which resolveRef leaves as they are. Most feeds
// link absolutely, so this spares most items a pass of the HTML tokenizer.
func mayHaveRelativeURL(s string) bool {
	for i := 0; ; {
		j := strings.IndexByte(s[i:], '=')
		if j < 0 {
			return false
		}
		eq := i + j
		i = eq + 1
		k := eq
		for k > 0 && isHTMLSpace(s[k-1]) {
			k--
		}
		if !endsWithURLAttr(s[:k]) {
			continue
		}
		v := s[skipHTMLSpace(s, eq+1):]
		if v != "" && (v[0] == '"' || v[0] == '\'') {
			v = v[1:]
		}
		if !hasPrefixFold(v, "http://") && !hasPrefixFold(v, "https://") &&
			!hasPrefixFold(v, "mailto:") && !strings.HasPrefix(v, "#") {
			return true
		}
	}
}

// endsWithURLAttr reports whether s ends with the name of a URL attribute,
// in any case.
func endsWithURLAttr(s string) bool {
	for name := range urlAttrs {
		if hasSuffixFold(s, name) {
			return true
		}
	}
	return false
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}

// isHTMLSpace is the tokenizer's whitespace: space, tab, LF, FF, CR.
func isHTMLSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'
}

func skipHTMLSpace(s string, i int) int {
	for i < len(s) && isHTMLSpace(s[i]) {
		i++
	}
	return i
}
