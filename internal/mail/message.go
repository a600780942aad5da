package mail

import (
	"fmt"
	"io"
	netmail "net/mail"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Message is one composed mail, ready to send to one address. Composer
// makes them; its fields are exported so that a caller can log or show
// what is sent, not to be built by hand.
type Message struct {
	From    *netmail.Address
	To      string // a bare address, as ParseAddress returns it
	Subject string // one line, no control characters
	Date    time.Time
	ID      string // Message-ID without the angle brackets
	// Header holds the other header fields, each already in its final
	// ASCII form (List-Id, List-Unsubscribe…).
	Header []Field
	Text   string // the text/plain part
	HTML   string // the text/html part
}

// Field is one header field.
type Field struct {
	Name, Value string
}

// WriteTo writes m as it goes over SMTP (RFC 5322, MIME), for previews
// and tests.
func (m *Message) WriteTo(w io.Writer) (int64, error) {
	gm, err := m.msg()
	if err != nil {
		return 0, err
	}
	return gm.WriteTo(w)
}

// msg converts m into go-mail's Msg, which does the MIME work: the
// multipart/alternative structure, quoted-printable or base64 bodies and
// RFC 2047 encoded words in the subject and names.
func (m *Message) msg() (*gomail.Msg, error) {
	gm := gomail.NewMsg(gomail.WithEncoding(encodingFor(m.Text+m.HTML)), gomail.WithNoDefaultUserAgent())
	if m.From == nil {
		return nil, fmt.Errorf("compose: no From address")
	}
	gm.FromMailAddress(m.From)
	if err := gm.To(m.To); err != nil {
		return nil, fmt.Errorf("compose: To %q: %w", m.To, err)
	}
	gm.Subject(m.Subject)
	gm.SetDateWithValue(m.Date)
	gm.SetMessageIDWithValue(m.ID)
	for _, f := range m.Header {
		if !headerSafe(f.Name) || !headerSafe(f.Value) {
			return nil, fmt.Errorf("compose: header %q has a character a header cannot", f.Name)
		}
		gm.SetGenHeaderPreformatted(gomail.Header(f.Name), f.Value)
	}
	gm.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		gm.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return gm, nil
}

// headerSafe reports whether s is printable ASCII, folded lines allowed
// ("\r\n" followed by a space): what a preformatted header may hold.
func headerSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\r':
			if i+2 >= len(s) || s[i+1] != '\n' || s[i+2] != ' ' {
				return false
			}
			i++
		case c == '\t':
		case c < ' ' || c > '~':
			return false
		}
	}
	return true
}

// encodingFor picks the transfer encoding of the bodies (and of encoded
// words): quoted-printable keeps mostly-ASCII text readable; base64 is
// smaller for text mostly in another script (a Korean digest is a third
// the size of its quoted-printable form).
func encodingFor(s string) gomail.Encoding {
	high := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			high++
		}
	}
	if high*4 > len(s) {
		return gomail.EncodingB64
	}
	return gomail.EncodingQP
}
