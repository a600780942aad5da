package config

import (
	"fmt"
	netmail "net/mail"
	"slices"
	"strconv"
	"strings"
	"time"
	// The zone database is built in, so that mail.timezone means the same
	// on a machine without /usr/share/zoneinfo (a slim container).
	_ "time/tzdata"
	"unicode"

	"github.com/goccy/go-yaml/ast"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/mail"
)

// Defaults of a channel's mail.
const (
	DefaultDigestAt      = "07:00"
	DefaultDigestWeekday = time.Monday
	maxPostalAddress     = 500
)

// Mail is the mail: block, how the mailing lists are sent. Without the
// block SMTP is the zero Server and Enabled is false.
type Mail struct {
	SMTP          mail.Server      // mail.smtp; every printed form hides the password
	From          *netmail.Address // mail.from, with its display name
	PostalAddress string           // mail.postal_address, lines separated by "\n"
	Timezone      *time.Location   // mail.timezone; UTC unless given
}

// Enabled reports whether feeds.yaml has a mail: block.
func (m Mail) Enabled() bool { return m.SMTP.Host != "" }

// String describes m for logs and /status, the SMTP password as
// "REDACTED".
func (m Mail) String() string {
	if !m.Enabled() {
		return "mail: off"
	}
	from := ""
	if m.From != nil {
		from = m.From.String()
	}
	zone := "UTC"
	if m.Timezone != nil {
		zone = m.Timezone.String()
	}
	return fmt.Sprintf("mail: smtp %s, from %s, timezone %s", m.SMTP, from, zone)
}

// GoString is String: %#v must not print the password either.
func (m Mail) GoString() string { return m.String() }

func (d *decoder) mail(m *Mail) func(ast.Node, string) {
	return func(n ast.Node, path string) {
		d.mapping(n, path, []key{
			{"smtp", parsed(d, &m.SMTP, "a URL", mail.ParseServer)},
			{"from", parsed(d, &m.From, "an address", mail.ParseFrom)},
			{"postal_address", d.str(&m.PostalAddress)},
			{"timezone", parsed(d, &m.Timezone, "a time zone", loadZone)},
		})
	}
}

// parsed decodes a scalar with parse into dst; parse's error is the
// problem.
func parsed[T any](d *decoder, dst *T, want string, parse func(string) (T, error)) func(ast.Node, string) {
	return func(n ast.Node, path string) {
		s, ok := d.scalar(n, path, want)
		if !ok {
			return
		}
		v, err := parse(s)
		if err != nil {
			d.bad(n, path, err.Error())
			return
		}
		*dst = v
	}
}

// loadZone returns the IANA time zone name, refusing "Local" (which would
// mean whatever the machine is set to) and "".
func loadZone(name string) (*time.Location, error) {
	if name == "" || name == "Local" || strings.TrimSpace(name) != name {
		return nil, fmt.Errorf(`must be an IANA time zone name such as "Asia/Seoul", "America/New_York" or "UTC" (got %q)`, name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf(`unknown time zone %q: give an IANA name such as "Asia/Seoul", "America/New_York" or "UTC"`, name)
	}
	return loc, nil
}

// channelMail decodes channels[].mail: { digest, at, weekday }. at and
// weekday take their defaults for the digests they apply to, and are
// problems when given for one they do not.
func (d *decoder) channelMail(dst *feed.Digest) func(ast.Node, string) {
	return func(n ast.Node, path string) {
		var mode, at, weekday string
		d.mapping(n, path, []key{
			{"digest", d.str(&mode)},
			{"at", d.str(&at)},
			{"weekday", d.str(&weekday)},
		})
		digestPath, atPath, dayPath := child(path, "digest"), child(path, "at"), child(path, "weekday")
		switch {
		case d.failed[digestPath]:
			return
		case mode == "":
			d.bad(n, digestPath, "required: "+strings.Join(feed.DigestModes(), ", ")+" (or leave mail out)")
			return
		case !slices.Contains(feed.DigestModes(), mode):
			d.bad(n, digestPath, fmt.Sprintf("must be one of %s (got %q)", strings.Join(feed.DigestModes(), ", "), mode))
			return
		}
		dg := feed.Digest{Mode: mode}
		if d.given[atPath] && mode == feed.DigestInstant {
			d.bad(n, atPath, "applies to daily and weekly digests only; an instant list mails as items arrive")
		} else if mode != feed.DigestInstant {
			if at == "" {
				at = DefaultDigestAt
			}
			h, m, ok := parseClock(at)
			if !ok {
				d.bad(n, atPath, fmt.Sprintf(`must be a time of day such as "07:00" or "18:30", 00:00 to 23:59 (got %q)`, at))
			}
			dg.Hour, dg.Minute = h, m
		}
		if d.given[dayPath] && mode != feed.DigestWeekly {
			d.bad(n, dayPath, "applies to weekly digests only")
		} else if mode == feed.DigestWeekly {
			dg.Weekday = DefaultDigestWeekday
			if weekday != "" {
				wd, ok := parseWeekday(weekday)
				if !ok {
					d.bad(n, dayPath, fmt.Sprintf("must be a day of the week such as monday (got %q)", weekday))
				}
				dg.Weekday = wd
			}
		}
		*dst = dg
	}
}

// parseClock reads "HH:MM" (or "H:MM"), 24-hour.
func parseClock(s string) (hour, minute int, ok bool) {
	hs, ms, found := strings.Cut(s, ":")
	if !found || len(hs) < 1 || len(hs) > 2 || len(ms) != 2 {
		return 0, 0, false
	}
	h, err1 := strconv.Atoi(hs)
	m, err2 := strconv.Atoi(ms)
	if err1 != nil || err2 != nil || h < 0 || h > 23 || m < 0 || m > 59 || hs[0] == '+' || hs[0] == '-' {
		return 0, 0, false
	}
	return h, m, true
}

func parseWeekday(s string) (time.Weekday, bool) {
	for d := time.Sunday; d <= time.Saturday; d++ {
		if strings.EqualFold(s, d.String()) {
			return d, true
		}
	}
	return 0, false
}

// mail checks the mail block and the channels' mail as a whole.
func (v *validator) mail(c Config) {
	m := c.Mail
	var mailed []int
	for i, ch := range c.Channels {
		if ch.Mail.Mode == "" {
			continue
		}
		mailed = append(mailed, i)
		p := fmt.Sprintf("channels[%d].mail", i)
		dg := ch.Mail
		if !slices.Contains(feed.DigestModes(), dg.Mode) {
			v.add(p+".digest", "must be one of %s (got %q)", strings.Join(feed.DigestModes(), ", "), dg.Mode)
		}
		if dg.Hour < 0 || dg.Hour > 23 || dg.Minute < 0 || dg.Minute > 59 {
			v.add(p+".at", "must be a time of day 00:00 to 23:59 (got %02d:%02d)", dg.Hour, dg.Minute)
		}
		if dg.Weekday < time.Sunday || dg.Weekday > time.Saturday {
			v.add(p+".weekday", "must be a day of the week (got %d)", dg.Weekday)
		}
	}
	given := m.Enabled() || m.From != nil || m.PostalAddress != ""
	if !given {
		for _, i := range mailed {
			v.add(fmt.Sprintf("channels[%d].mail", i), "needs the mail: block (mail.smtp, mail.from, mail.postal_address) to send with")
		}
		return
	}
	if !m.Enabled() {
		v.add("mail.smtp", `required: the SMTP server, such as "smtp://user:password@mail.example.org:587"`)
	}
	if m.From == nil {
		v.add("mail.from", `required: the sender, such as "The Peninsula <updates@example.org>"`)
	}
	switch pa := strings.TrimSpace(m.PostalAddress); {
	case pa == "":
		v.add("mail.postal_address", "required: every list mail prints it in its footer, as anti-spam laws (CAN-SPAM) ask")
	case len([]rune(pa)) > maxPostalAddress:
		v.add("mail.postal_address", "must be at most %d characters (got %d)", maxPostalAddress, len([]rune(pa)))
	case strings.IndexFunc(pa, func(r rune) bool { return r != '\n' && (unicode.IsControl(r) || unicode.Is(unicode.Cf, r)) }) >= 0:
		v.add("mail.postal_address", "must not contain control characters (line breaks are fine)")
	}
}

// mailWarnings is Warnings' advice about mail.
func (c Config) mailWarnings() []string {
	var w []string
	mailed := false
	for _, ch := range c.Channels {
		mailed = mailed || ch.Mail.Mode != ""
	}
	if c.Mail.Enabled() && !mailed {
		w = append(w, "mail: no channel has mail (channels[].mail), so nothing is mailed")
	}
	if mailed && !strings.HasPrefix(c.Server.BaseURL, "https://") {
		w = append(w, fmt.Sprintf("server.base_url: %q is not https: list mail links to it for confirming and unsubscribing, "+
			"and mail programs offer one-click unsubscribe only for an https link (RFC 8058)", c.Server.BaseURL))
	}
	return w
}
