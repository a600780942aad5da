package parse

import (
	"bytes"
	"mime"
	"regexp"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/encoding/unicode/utf32"
)

// Byte order marks, longest first so that UTF-32LE wins over UTF-16LE.
var (
	bomUTF32BE = []byte{0x00, 0x00, 0xFE, 0xFF}
	bomUTF32LE = []byte{0xFF, 0xFE, 0x00, 0x00}
	bomUTF8    = []byte{0xEF, 0xBB, 0xBF}
	bomUTF16BE = []byte{0xFE, 0xFF}
	bomUTF16LE = []byte{0xFF, 0xFE}
)

// xmlDeclRe matches an XML declaration at the start of a document and
// captures its encoding pseudo-attribute (group 2 is the value).
var xmlDeclRe = regexp.MustCompile(`^\s*<\?xml\b[^>]*?\bencoding\s*=\s*(["'])([^"']*)(["'])`)

// transcode returns body as UTF-8 text fit for an XML or JSON decoder, and
// the name of the encoding it was read as.
//
// The encoding is chosen in this order: a byte order mark; the body itself
// when it is valid UTF-8; the charset of the HTTP Content-Type; the encoding
// of the XML declaration (or of an HTML page's <meta charset>); else UTF-8.
// A body that is not valid UTF-8 and names no other encoding (or wrongly
// names UTF-8) is tried as CP949, the commonest mislabelling among our
// Korean sources, and read as such only when that decodes markedly better
// than UTF-8.
//
// The result never contains invalid UTF-8 (each bad sequence becomes one
// U+FFFD) nor characters that XML 1.0 forbids (C0 controls other than tab,
// LF and CR, and U+FFFE/U+FFFF). Its XML declaration, if any, says UTF-8,
// so that no decoder downstream decodes it a second time.
func transcode(body []byte, contentType string) ([]byte, string) {
	text, name := decode(body, contentType)
	text = cleanXMLChars(text)
	return declareUTF8(text), name
}

func decode(body []byte, contentType string) ([]byte, string) {
	switch {
	case bytes.HasPrefix(body, bomUTF32BE):
		return decodeWith(utf32.UTF32(utf32.BigEndian, utf32.ExpectBOM), body), "utf-32be"
	case bytes.HasPrefix(body, bomUTF32LE):
		return decodeWith(utf32.UTF32(utf32.LittleEndian, utf32.ExpectBOM), body), "utf-32le"
	case bytes.HasPrefix(body, bomUTF8):
		return bytes.ToValidUTF8(body[len(bomUTF8):], replacement), "utf-8"
	case bytes.HasPrefix(body, bomUTF16BE):
		return decodeWith(unicode.UTF16(unicode.BigEndian, unicode.ExpectBOM), body), "utf-16be"
	case bytes.HasPrefix(body, bomUTF16LE):
		return decodeWith(unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM), body), "utf-16le"
	// UTF-16 without a BOM still shows itself in a leading "<?" or "<r".
	case len(body) >= 4 && body[0] == '<' && body[1] == 0 && body[2] != 0 && body[3] == 0:
		return decodeWith(unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM), body), "utf-16le"
	case len(body) >= 4 && body[0] == 0 && body[1] == '<' && body[2] == 0 && body[3] != 0:
		return decodeWith(unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM), body), "utf-16be"
	}
	if utf8.Valid(body) {
		return body, "utf-8"
	}

	// Labels in order of authority; UTF-8 and unknown labels are skipped.
	for _, label := range []string{contentTypeCharset(contentType), declaredEncoding(body)} {
		if enc, name := lookupEncoding(label); enc != nil {
			return decodeWith(enc, body), name
		}
	}

	// Nothing but UTF-8 claimed, and the body is not UTF-8. A stray bad byte
	// in a UTF-8 document leaves more good multi-byte sequences than bad
	// ones, or very few bad ones; a document really in CP949 has many bad
	// ones (each Hangul syllable counts two) and few good ones.
	good, bad := utf8Sequences(body)
	if bad > good && bad >= minGuessEvidence {
		if guess := decodeWith(korean.EUCKR, body); bytes.Count(guess, replacement) < bad {
			return guess, "cp949"
		}
	}
	return bytes.ToValidUTF8(body, replacement), "utf-8"
}

var replacement = []byte("\uFFFD")

// minGuessEvidence is how many bytes must be invalid as UTF-8 before a
// body is guessed to be CP949: two Hangul syllables' worth, so that a lone
// stray byte next to an ASCII letter (which CP949 would happily read as
// one syllable) stays a U+FFFD.
const minGuessEvidence = 4

// decodeWith decodes body with enc; the x/text decoders turn invalid input
// into U+FFFD rather than failing, and ToValidUTF8 makes sure of it.
func decodeWith(enc encoding.Encoding, body []byte) []byte {
	out, err := enc.NewDecoder().Bytes(body)
	if err != nil {
		return bytes.ToValidUTF8(body, replacement)
	}
	return bytes.ToValidUTF8(out, replacement)
}

// utf8Sequences counts the valid multi-byte runes and the invalid bytes
// (each a maximal invalid sequence start) in b.
func utf8Sequences(b []byte) (good, bad int) {
	for len(b) > 0 {
		if b[0] < utf8.RuneSelf {
			b = b[1:]
			continue
		}
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			bad++
		} else {
			good++
		}
		b = b[n:]
	}
	return good, bad
}

// contentTypeCharset returns the charset parameter of an HTTP Content-Type,
// or "".
func contentTypeCharset(contentType string) string {
	if contentType == "" {
		return ""
	}
	_, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		// Be lenient with headers like `text/xml; charset="euc-kr` .
		// The search must not change the string's length: ToLower would,
		// turning an invalid byte into a 3-byte U+FFFD (found by FuzzParse).
		const key = "charset="
		for i := 0; i+len(key) <= len(contentType); i++ {
			if strings.EqualFold(contentType[i:i+len(key)], key) {
				return strings.Trim(contentType[i+len(key):], `"' ;`)
			}
		}
		return ""
	}
	return params["charset"]
}

// declaredEncoding returns the encoding named in the XML declaration, else
// in an HTML <meta charset> or <meta http-equiv="Content-Type"> within the
// first 1024 bytes (where browsers look for it), or "".
func declaredEncoding(body []byte) string {
	head := body
	if len(head) > 1024 {
		head = head[:1024]
	}
	m := xmlDeclRe.FindSubmatch(head)
	if m == nil {
		if m := metaCharsetRe.FindSubmatch(head); m != nil {
			return string(m[1])
		}
		return ""
	}
	return string(m[2])
}

// metaCharsetRe matches the charset of an HTML <meta> element, in both its
// forms: <meta charset="euc-kr"> and <meta http-equiv="Content-Type"
// content="text/html; charset=euc-kr">.
var metaCharsetRe = regexp.MustCompile(`(?i)<meta\s[^>]*?charset\s*=\s*["']?\s*([a-z0-9._:-]+)`)

// lookupEncoding maps a charset label to a decoder and a canonical name. It
// returns a nil Encoding for UTF-8, for an empty label and for labels it does
// not know, all of which mean "read as UTF-8".
func lookupEncoding(label string) (encoding.Encoding, string) {
	label = strings.ToLower(strings.Trim(strings.TrimSpace(label), `"'`))
	switch label {
	case "", "utf-8", "utf8", "unicode-1-1-utf-8":
		return nil, ""
	// x/text's EUC-KR decoder is CP949 (Unified Hangul Code), a superset of
	// EUC-KR, so every Korean label shares it.
	case "euc-kr", "euckr", "x-euc-kr", "cp949", "ms949", "x-windows-949",
		"windows-949", "uhc", "ks_c_5601-1987", "ks_c_5601", "ksc5601",
		"ksc_5601", "ks_c_5601-1989", "csksc56011987", "iso-ir-149", "korean", "csueckr":
		return korean.EUCKR, "cp949"
	case "shift_jis", "shift-jis", "sjis", "x-sjis", "ms_kanji", "csshiftjis",
		"windows-31j", "cp932", "ms932", "x-ms-cp932", "mskanji":
		return japanese.ShiftJIS, "shift_jis"
	case "gb2312", "gbk", "cp936", "ms936", "windows-936", "x-gbk", "euc-cn",
		"csgb2312", "chinese", "gb_2312-80", "iso-ir-58":
		return simplifiedchinese.GBK, "gbk"
	case "big5", "big5-hkscs", "cp950", "ms950", "x-x-big5", "csbig5":
		return traditionalchinese.Big5, "big5"
	}
	if enc, err := htmlindex.Get(label); err == nil {
		if enc == encoding.Nop || enc == unicode.UTF8 {
			return nil, ""
		}
		name, _ := htmlindex.Name(enc)
		return enc, name
	}
	if enc, err := ianaindex.IANA.Encoding(label); err == nil && enc != nil {
		if enc == unicode.UTF8 {
			return nil, ""
		}
		name, _ := ianaindex.IANA.Name(enc)
		return enc, strings.ToLower(name)
	}
	return nil, ""
}

// cleanXMLChars removes the characters XML 1.0 does not allow: C0 controls
// other than tab, LF and CR, and the non-characters U+FFFE and U+FFFF. It
// returns b itself when there is nothing to remove.
func cleanXMLChars(b []byte) []byte {
	clean := true
	for i := 0; i < len(b); i++ {
		c := b[i]
		if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') ||
			(c == 0xEF && i+2 < len(b) && b[i+1] == 0xBF && (b[i+2] == 0xBE || b[i+2] == 0xBF)) {
			clean = false
			break
		}
	}
	if clean {
		return b
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
			continue
		}
		if c == 0xEF && i+2 < len(b) && b[i+1] == 0xBF && (b[i+2] == 0xBE || b[i+2] == 0xBF) {
			i += 2
			continue
		}
		out = append(out, c)
	}
	return out
}

// declareUTF8 rewrites the encoding of a leading XML declaration to UTF-8.
func declareUTF8(b []byte) []byte {
	loc := xmlDeclRe.FindSubmatchIndex(b)
	if loc == nil {
		return b
	}
	vs, ve := loc[4], loc[5] // the value, between its quotes
	if strings.EqualFold(string(b[vs:ve]), "utf-8") {
		return b
	}
	out := make([]byte, 0, len(b)+5)
	out = append(out, b[:vs]...)
	out = append(out, "UTF-8"...)
	return append(out, b[ve:]...)
}
