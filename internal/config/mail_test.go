package config

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

// mailed is a correct file with a mailing list on every kind of digest.
const mailed = `server:
  base_url: https://news.example.org
mail:
  smtp: "smtp://sender:top%2Fsecret@mail.example.org:587"
  from: "The Peninsula <updates@keia.org>"
  postal_address: |
    1800 K St NW, Suite 1010
    Washington, DC 20006
  timezone: Asia/Seoul
sources:
  - id: kei
    url: https://keia.org/feed/
    tags: [think-tank]
channels:
  - id: instant
    title: Instant
    tags: [think-tank]
    mail: { digest: instant }
  - id: daily
    title: Daily
    tags: [think-tank]
    mail: { digest: daily }
  - id: weekly
    title: Weekly
    tags: [think-tank]
    mail: { digest: weekly }
  - id: friday
    title: Friday
    tags: [think-tank]
    mail: { digest: weekly, at: "18:30", weekday: Friday }
  - id: none
    title: No list
    tags: [think-tank]
`

func TestParseMail(t *testing.T) {
	c, probs := parseString(t, mailed)
	if len(probs) > 0 {
		t.Fatalf("problems: %v", probs)
	}
	m := c.Mail
	if !m.Enabled() || m.SMTP.Host != "mail.example.org" || m.SMTP.Port != 587 || m.SMTP.ImplicitTLS || m.SMTP.Username != "sender" {
		t.Errorf("mail.smtp = %#v", m.SMTP)
	}
	if m.From == nil || m.From.Name != "The Peninsula" || m.From.Address != "updates@keia.org" {
		t.Errorf("mail.from = %v", m.From)
	}
	if m.PostalAddress != "1800 K St NW, Suite 1010\nWashington, DC 20006\n" {
		t.Errorf("mail.postal_address = %q", m.PostalAddress)
	}
	if m.Timezone == nil || m.Timezone.String() != "Asia/Seoul" {
		t.Errorf("mail.timezone = %v", m.Timezone)
	}
	want := map[string]feed.Digest{
		"instant": {Mode: feed.DigestInstant},
		"daily":   {Mode: feed.DigestDaily, Hour: 7},
		"weekly":  {Mode: feed.DigestWeekly, Hour: 7, Weekday: time.Monday},
		"friday":  {Mode: feed.DigestWeekly, Hour: 18, Minute: 30, Weekday: time.Friday},
		"none":    {},
	}
	for _, ch := range c.Channels {
		if ch.Mail != want[ch.ID] {
			t.Errorf("channels %s: mail = %+v, want %+v", ch.ID, ch.Mail, want[ch.ID])
		}
	}
	if w := c.Warnings(); slices.ContainsFunc(w, func(s string) bool { return strings.HasPrefix(s, "mail") || strings.HasPrefix(s, "server.base_url") }) {
		t.Errorf("warnings about a correct mail setup: %v", w)
	}
}

func TestParseMailDefaults(t *testing.T) {
	c, probs := parseString(t, valid)
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	if c.Mail.Enabled() || c.Mail.From != nil || c.Mail.Timezone != time.UTC {
		t.Errorf("without a mail block: %#v, want it off with timezone UTC", c.Mail)
	}
	for _, ch := range c.Channels {
		if ch.Mail != (feed.Digest{}) {
			t.Errorf("channel %s has mail %+v without asking", ch.ID, ch.Mail)
		}
	}
	c, probs = parseString(t, strings.Replace(mailed, "  timezone: Asia/Seoul\n", "", 1))
	if len(probs) > 0 || c.Mail.Timezone != time.UTC {
		t.Errorf("mail without a timezone: %v, %v; want UTC", c.Mail.Timezone, probs)
	}
}

// TestParseMailProblems breaks the mail configuration one way at a time:
// each gives one problem, with its line.
func TestParseMailProblems(t *testing.T) {
	for _, tc := range []struct {
		name, old, new, want string
	}{
		{"a URL scheme that is not smtp", `"smtp://sender:top%2Fsecret@mail.example.org:587"`, `"https://sender:top%2Fsecret@mail.example.org"`,
			`feeds.yaml:4: mail.smtp: must start with smtp:// (STARTTLS) or smtps:// (implicit TLS) (got "https://sender:REDACTED@mail.example.org")`},
		{"no host", `"smtp://sender:top%2Fsecret@mail.example.org:587"`, `"smtp://sender:top%2Fsecret@:587"`,
			`feeds.yaml:4: mail.smtp: has no host (got "smtp://sender:REDACTED@:587")`},
		{"not a URL", `"smtp://sender:top%2Fsecret@mail.example.org:587"`, `"smtp://sender:top/secret@mail.example.org"`,
			`feeds.yaml:4: mail.smtp: is not a URL such as smtp://user:password@mail.example.org:587 (check that characters such as @ / : # in the password are percent-encoded)`},
		{"a user without a password", `"smtp://sender:top%2Fsecret@mail.example.org:587"`, `"smtp://sender@mail.example.org"`,
			`feeds.yaml:4: mail.smtp: has a user without a password or a password without a user (got "smtp://sender@mail.example.org")`},
		{"a bad from address", `"The Peninsula <updates@keia.org>"`, `"The Peninsula <updates@keia>"`,
			`feeds.yaml:5: mail.from: the address: the domain needs a dot, as in example.org`},
		{"from without an address", `"The Peninsula <updates@keia.org>"`, `"The Peninsula"`,
			`feeds.yaml:5: mail.from: must be an address such as "The Peninsula <updates@example.org>" (mail: no angle-addr)`},
		{"an unknown zone", "timezone: Asia/Seoul", "timezone: Asia/Pyongyang_City",
			`feeds.yaml:9: mail.timezone: unknown time zone "Asia/Pyongyang_City": give an IANA name such as "Asia/Seoul", "America/New_York" or "UTC"`},
		{"the machine's zone", "timezone: Asia/Seoul", "timezone: Local",
			`feeds.yaml:9: mail.timezone: must be an IANA time zone name such as "Asia/Seoul", "America/New_York" or "UTC" (got "Local")`},
		{"a misspelt key", "  timezone: Asia/Seoul", "  time_zone: Asia/Seoul",
			`feeds.yaml:9: mail.time_zone: unknown key (did you mean "timezone"?)`},
		{"no postal address", "  postal_address: |\n    1800 K St NW, Suite 1010\n    Washington, DC 20006\n", "",
			`feeds.yaml:3: mail.postal_address: required: every list mail prints it in its footer, as anti-spam laws (CAN-SPAM) ask`},
		{"no smtp", `  smtp: "smtp://sender:top%2Fsecret@mail.example.org:587"` + "\n", "",
			`feeds.yaml:3: mail.smtp: required: the SMTP server, such as "smtp://user:password@mail.example.org:587"`},
		{"a time that is not one", `mail: { digest: daily }`, `mail: { digest: daily, at: "25:00" }`,
			`feeds.yaml:22: channels[1].mail.at: must be a time of day such as "07:00" or "18:30", 00:00 to 23:59 (got "25:00")`},
		{"a time in words", `mail: { digest: daily }`, `mail: { digest: daily, at: 7am }`,
			`feeds.yaml:22: channels[1].mail.at: must be a time of day such as "07:00" or "18:30", 00:00 to 23:59 (got "7am")`},
		{"a weekday for a daily digest", `mail: { digest: daily }`, `mail: { digest: daily, weekday: monday }`,
			`feeds.yaml:22: channels[1].mail.weekday: applies to weekly digests only`},
		{"a time for instant mail", `mail: { digest: instant }`, `mail: { digest: instant, at: "07:00" }`,
			`feeds.yaml:18: channels[0].mail.at: applies to daily and weekly digests only; an instant list mails as items arrive`},
		{"an unknown digest", `mail: { digest: daily }`, `mail: { digest: hourly }`,
			`feeds.yaml:22: channels[1].mail.digest: must be one of instant, daily, weekly (got "hourly")`},
		{"no digest", `mail: { digest: daily }`, `mail: { at: "07:00" }`,
			`feeds.yaml:22: channels[1].mail.digest: required: instant, daily, weekly (or leave mail out)`},
		{"a weekday that is not one", `weekday: Friday`, `weekday: Fri`,
			`feeds.yaml:30: channels[3].mail.weekday: must be a day of the week such as monday (got "Fri")`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(mailed, tc.old) {
				t.Fatalf("the file has no %q", tc.old)
			}
			_, got := parseString(t, strings.Replace(mailed, tc.old, tc.new, 1))
			if len(got) != 1 || got[0] != tc.want {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), tc.want)
			}
			for _, p := range got {
				if strings.Contains(p, "secret") {
					t.Errorf("a problem shows the SMTP password: %s", p)
				}
			}
		})
	}
}

// TestMailOnAChannelNeedsTheBlock: a channel asking for mail without a
// mail: block is a problem, one per such channel.
func TestMailOnAChannelNeedsTheBlock(t *testing.T) {
	src := valid + "    mail: { digest: daily }\n"
	_, got := parseString(t, src)
	want := []string{`feeds.yaml:9: channels[0].mail: needs the mail: block (mail.smtp, mail.from, mail.postal_address) to send with`}
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestMailWarnings(t *testing.T) {
	http := strings.Replace(mailed, "base_url: https://news.example.org", "base_url: http://localhost:8080", 1)
	c, probs := parseString(t, http)
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	if w := c.Warnings(); !slices.ContainsFunc(w, func(s string) bool {
		return strings.HasPrefix(s, `server.base_url: "http://localhost:8080" is not https`) && strings.Contains(s, "RFC 8058")
	}) {
		t.Errorf("no warning about an http base_url with mail on: %v", w)
	}
	var noLists []string
	for _, l := range strings.Split(mailed, "\n") {
		if !strings.Contains(l, "mail: {") {
			noLists = append(noLists, l)
		}
	}
	c, probs = parseString(t, strings.Join(noLists, "\n"))
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	if w := c.Warnings(); !slices.Contains(w, "mail: no channel has mail (channels[].mail), so nothing is mailed") {
		t.Errorf("no warning about a mail block no channel uses: %v", w)
	}
}

// TestConfigHidesSMTPPassword: however the parsed configuration is
// printed or encoded, the password stays out.
func TestConfigHidesSMTPPassword(t *testing.T) {
	c, probs := parseString(t, mailed)
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	outs := []string{string(j), c.Mail.String(), fmt.Sprint(c.Mail.SMTP)}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		outs = append(outs, fmt.Sprintf(verb, c), fmt.Sprintf(verb, c.Mail), fmt.Sprintf(verb, &c))
	}
	for _, out := range outs {
		if strings.Contains(out, "secret") {
			t.Errorf("the SMTP password is printed: %.300s", out)
		}
	}
	if got, want := c.Mail.String(), `mail: smtp smtp://sender:REDACTED@mail.example.org:587, from "The Peninsula" <updates@keia.org>, timezone Asia/Seoul`; got != want {
		t.Errorf("Mail.String() = %q, want %q", got, want)
	}
}
