package mail

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
)

// Default ports of the two schemes of mail.smtp.
const (
	SubmissionPort  = 587 // smtp://: STARTTLS when the server offers it
	ImplicitTLSPort = 465 // smtps://: TLS from the first byte (RFC 8314)
)

// Server is the SMTP server of mail.smtp. Its password is kept out of
// every printed form: String, GoString, LogValue and MarshalText show the
// URL with the password as "REDACTED", and it is an unexported field, so
// that logs, errors, JSON and /status never show it.
type Server struct {
	Host        string
	Port        int
	ImplicitTLS bool // smtps://
	Username    string
	password    string
}

// ParseServer parses mail.smtp: "smtp://user:pass@host:587" (STARTTLS
// when the server offers it) or "smtps://user:pass@host:465" (implicit
// TLS). The port defaults to 587 and 465; user and password are optional
// but go together, percent-encoded where they hold URL characters. The
// error says what is wrong and never holds the password.
func ParseServer(raw string) (Server, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse's error quotes the input, password and all.
		return Server{}, errors.New("is not a URL such as smtp://user:password@mail.example.org:587 (check that characters such as @ / : # in the password are percent-encoded)")
	}
	var s Server
	switch u.Scheme {
	case "smtp":
		s.Port = SubmissionPort
	case "smtps":
		s.Port, s.ImplicitTLS = ImplicitTLSPort, true
	default:
		return Server{}, fmt.Errorf("must start with smtp:// (STARTTLS) or smtps:// (implicit TLS) (got %q)", redacted(u))
	}
	s.Host = u.Hostname()
	if s.Host == "" {
		return Server{}, fmt.Errorf("has no host (got %q)", redacted(u))
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return Server{}, fmt.Errorf("has a port outside 1-65535 (got %q)", redacted(u))
		}
		s.Port = n
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return Server{}, fmt.Errorf("must be only scheme, user, password, host and port, without a path, query or fragment (got %q)", redacted(u))
	}
	if u.User != nil {
		s.Username = u.User.Username()
		s.password, _ = u.User.Password()
		if s.Username == "" || s.password == "" {
			return Server{}, fmt.Errorf("has a user without a password or a password without a user (got %q)", redacted(u))
		}
	}
	return s, nil
}

// Addr is host:port, for dialling.
func (s Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// String is the server's URL with the password as "REDACTED".
func (s Server) String() string {
	if s.Host == "" {
		return ""
	}
	u := &url.URL{Scheme: "smtp", Host: s.Addr()}
	if s.ImplicitTLS {
		u.Scheme = "smtps"
	}
	if s.Username != "" {
		u.User = url.UserPassword(s.Username, "REDACTED")
	}
	return u.String()
}

// GoString is String, so that %#v does not print the password either.
func (s Server) GoString() string { return "mail.Server(" + strconv.Quote(s.String()) + ")" }

// LogValue is String, for log/slog.
func (s Server) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText is String, for encoding/json and the like.
func (s Server) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// redacted is u as a string with its password as "REDACTED", for error
// messages.
func redacted(u *url.URL) string {
	if _, ok := u.User.Password(); ok {
		c := *u
		c.User = url.UserPassword(u.User.Username(), "REDACTED")
		return c.String()
	}
	return u.String()
}
