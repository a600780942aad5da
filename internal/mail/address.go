package mail

import (
	"fmt"
	netmail "net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"

	"github.com/kpolicy/aggregator/internal/feed"
)

// Length limits of an address (RFC 5321 §4.5.3.1): the local part at most
// 64 octets, the domain at most 255 (253 in practice: a name with its dots),
// a label at most 63, and the whole at most 254 so that the reverse path
// "<address>" fits its 256.
const (
	maxAddress   = 254
	maxLocalPart = 64
	maxDomain    = 253
	maxLabel     = 63
	// maxInput bounds what ParseAddress looks at: anything longer is
	// refused before any parsing.
	maxInput = 1024
)

// atext are the characters of a dot-atom besides letters and digits
// (RFC 5322 §3.2.3).
const atext = "!#$%&'*+-/=?^_`{|}~"

// ParseAddress checks an address a reader typed to subscribe and returns
// it in the one form the list keeps and mails: the local part as typed,
// the domain in lower case and, for an internationalised domain, in its
// ASCII (punycode) form, so that "Reader@Example.ORG" and
// "Reader@example.org" are one subscriber and "독자@예시.한국" fails on its
// local part but "reader@예시.한국" becomes "reader@xn--vv4b11d.xn--3e0b707e".
//
// Only a bare address is accepted: no display name, comment, quotes, angle
// brackets, spaces, IP literal or line break, which also means nothing in
// it can start a new header line. The error is a *feed.Error with code
// feed.EINVALID whose message says what is wrong, in words fit for the
// sign-up page; it never repeats the input.
func ParseAddress(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", invalid("enter your e-mail address")
	}
	if len(s) > maxInput {
		return "", invalid("that is too long for an e-mail address (at most %d characters)", maxAddress)
	}
	if !utf8.ValidString(s) || strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }) >= 0 {
		return "", invalid("the address must be on one line, without control characters")
	}
	if strings.ContainsAny(s, "<>()[]\",;:\\ \t") || strings.IndexFunc(s, unicode.IsSpace) >= 0 {
		return "", invalid("give the address alone, such as name@example.org: no name, quotes, brackets or spaces")
	}
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return "", invalid("an e-mail address needs an @, as in name@example.org")
	}
	local, domain := s[:at], s[at+1:]
	if strings.Contains(local, "@") {
		return "", invalid("an e-mail address has only one @")
	}
	if err := checkLocal(local); err != nil {
		return "", err
	}
	ascii, err := checkDomain(domain)
	if err != nil {
		return "", err
	}
	addr := local + "@" + ascii
	if len(addr) > maxAddress {
		return "", invalid("that is too long for an e-mail address (at most %d characters)", maxAddress)
	}
	// net/mail is the reference parser; what we built must be what it reads.
	if a, err := netmail.ParseAddress(addr); err != nil || a.Name != "" || a.Address != addr {
		return "", invalid("that is not an e-mail address")
	}
	return addr, nil
}

func checkLocal(local string) error {
	switch {
	case local == "":
		return invalid("the part before the @ is missing")
	case len(local) > maxLocalPart:
		return invalid("the part before the @ is too long (at most %d characters)", maxLocalPart)
	case strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") || strings.Contains(local, ".."):
		return invalid("the part before the @ cannot start or end with a dot, or have two in a row")
	}
	for _, r := range local {
		if r > unicode.MaxASCII {
			return invalid("the part before the @ must be written in ASCII letters, digits and . _ - + (addresses in other scripts are not supported)")
		}
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '.' || strings.ContainsRune(atext, r)) {
			return invalid("the part before the @ has a character an address cannot have (%q)", r)
		}
	}
	return nil
}

// checkDomain returns the domain in lower-case ASCII, or why it is not the
// domain of a mailbox.
func checkDomain(domain string) (string, error) {
	if domain == "" {
		return "", invalid("the domain after the @ is missing")
	}
	if strings.HasSuffix(domain, ".") {
		return "", invalid("the domain cannot end with a dot")
	}
	ascii, err := idna.Lookup.ToASCII(domain)
	if err != nil || ascii == "" {
		return "", invalid("the domain after the @ is not a valid domain name")
	}
	ascii = strings.ToLower(ascii)
	if len(ascii) > maxDomain {
		return "", invalid("the domain is too long (at most %d characters)", maxDomain)
	}
	labels := strings.Split(ascii, ".")
	if len(labels) < 2 {
		return "", invalid("the domain needs a dot, as in example.org")
	}
	for _, l := range labels {
		if l == "" || len(l) > maxLabel || strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") {
			return "", invalid("the domain after the @ is not a valid domain name")
		}
		for _, c := range []byte(l) {
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return "", invalid("the domain after the @ is not a valid domain name")
			}
		}
	}
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		return "", invalid("give a domain name after the @, not an IP address")
	}
	return ascii, nil
}

func invalid(format string, args ...any) error {
	return feed.Errorf(feed.EINVALID, format, args...)
}

// ParseFrom parses mail.from: an address with an optional display name
// ("The Peninsula <updates@keia.org>"), the address held to ParseAddress's
// rules. The name may be in any script; it must be one line of at most 100
// characters.
func ParseFrom(s string) (*netmail.Address, error) {
	if len(s) > maxInput {
		return nil, fmt.Errorf("too long (at most %d characters)", maxInput)
	}
	if strings.ContainsAny(s, "\r\n") {
		return nil, fmt.Errorf("must be on one line")
	}
	a, err := netmail.ParseAddress(s)
	if err != nil {
		return nil, fmt.Errorf(`must be an address such as "The Peninsula <updates@example.org>" (%v)`, err)
	}
	addr, err := ParseAddress(a.Address)
	if err != nil {
		return nil, fmt.Errorf("the address: %s", feed.ErrorMessage(err))
	}
	name := strings.TrimSpace(a.Name)
	if strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return nil, fmt.Errorf("the name must not contain control characters")
	}
	if n := len([]rune(name)); n > 100 {
		return nil, fmt.Errorf("the name is too long (%d characters, at most 100)", n)
	}
	return &netmail.Address{Name: name, Address: addr}, nil
}
