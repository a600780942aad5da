package mail

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"mime"
	netmail "net/mail"
	"net/url"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/microcosm-cc/bluemonday"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/parse"
)

// Site is what every mail says about who sends it: the mail: block of
// feeds.yaml and server.base_url.
type Site struct {
	From          *netmail.Address // mail.from, as ParseFrom returns it
	BaseURL       string           // server.base_url, without a trailing slash
	PostalAddress string           // mail.postal_address; printed in every footer
	Location      *time.Location   // mail.timezone: dates are shown in it; nil is UTC
}

// List is one channel's mailing list as its mail shows it.
type List struct {
	ID    string // the channel id
	Title string // the channel title
	// PageURL is the channel's HTML page, linked from every mail.
	PageURL string
	// Sources names the channel's sources in bylines: source id →
	// display title. A source missing from it is shown by its id.
	Sources map[string]string
}

// Edition is what one list mail carries.
type Edition struct {
	Mode string // feed.DigestInstant, feed.DigestDaily or feed.DigestWeekly
	// Due is when a daily or weekly digest was due: its date is the one
	// the subject names. Unused for instant mail.
	Due   time.Time
	Items []feed.Item // newest first; at most maxItems are listed
}

// Composer composes the mail of every list of a site. It holds no state
// besides its settings and is safe for concurrent use.
type Composer struct {
	site   Site
	tokens *Tokens
	policy *bluemonday.Policy
	domain string // of mail.from: List-Id and Message-ID live under it
}

// NewComposer returns a Composer for site, signing its links with tokens.
// It fails when site has no From address or no absolute http(s) BaseURL.
func NewComposer(site Site, tokens *Tokens) (*Composer, error) {
	if site.From == nil {
		return nil, errors.New("mail composer: no From address")
	}
	if u, err := url.Parse(site.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("mail composer: base URL %q is not an absolute http(s) URL", site.BaseURL)
	}
	if tokens == nil {
		return nil, errors.New("mail composer: no tokens")
	}
	if site.Location == nil {
		site.Location = time.UTC
	}
	site.BaseURL = strings.TrimRight(site.BaseURL, "/")
	_, domain, _ := strings.Cut(site.From.Address, "@")
	return &Composer{site: site, tokens: tokens, policy: parse.PagePolicy(), domain: domain}, nil
}

//go:embed templates
var templateFS embed.FS

var (
	htmlTemplates = htmltemplate.Must(htmltemplate.New("").ParseFS(templateFS, "templates/*.html"))
	textTemplates = texttemplate.Must(texttemplate.New("").ParseFS(templateFS, "templates/*.txt"))
)

// view is what the templates show. Every string is one line (oneLine)
// except Text and Postal's lines, which have no control characters.
type view struct {
	Subject    string
	Channel    string
	ChannelURL string
	Intro      string
	Items      []itemView
	More       int // items not listed
	To         string
	SiteName   string
	SiteURL    string
	Postal     []string
	// Links of list mail.
	ManageURL, UnsubscribeURL string
	// The link of the confirmation mail.
	ConfirmURL string
	Expires    string
}

type itemView struct {
	Title, Link, Source, Byline, Date string
	HTML                              htmltemplate.HTML
	Text                              string
}

// Mail composes the list mail of e for the subscriber to: the items as
// the site shows them, the list headers, and a footer with the manage and
// unsubscribe links and the postal address. It fails for an address
// ParseAddress does not return unchanged, an unknown mode or no items.
func (c *Composer) Mail(l List, to string, e Edition, now time.Time) (*Message, error) {
	if err := checkTo(to); err != nil {
		return nil, err
	}
	if len(e.Items) == 0 {
		return nil, errors.New("compose: no items")
	}
	channel := oneLine(l.Title, maxTitle)
	if channel == "" {
		channel = l.ID
	}
	n := len(e.Items)
	var subject, intro string
	switch e.Mode {
	case feed.DigestInstant:
		if n == 1 {
			subject = oneLine(e.Items[0].Title, maxSubject)
		}
		if subject == "" {
			subject = fmt.Sprintf("%s in %s", count(n), channel)
		}
		intro = count(n)
	case feed.DigestDaily, feed.DigestWeekly:
		day := e.Due.In(c.site.Location).Format("2 January 2006")
		subject = fmt.Sprintf("%s %s, %s: %s", channel, e.Mode, day, count(n))
		intro = fmt.Sprintf("%s digest, %s: %s", strings.ToUpper(e.Mode[:1])+e.Mode[1:], day, count(n))
	default:
		return nil, fmt.Errorf("compose: unknown digest mode %q", e.Mode)
	}
	subject = oneLine(subject, maxSubject)

	unsubscribe := LinkURL(c.site.BaseURL, Unsubscribe, c.tokens.Make(Unsubscribe, l.ID, to, now))
	v := c.base(to, subject)
	v.Channel, v.ChannelURL, v.Intro = channel, l.PageURL, intro
	v.ManageURL = LinkURL(c.site.BaseURL, Manage, c.tokens.Make(Manage, l.ID, to, now))
	v.UnsubscribeURL = unsubscribe
	items := e.Items
	if len(items) > maxItems {
		v.More = len(items) - maxItems
		items = items[:maxItems]
	}
	id := sha256.New()
	fmt.Fprintf(id, "list\x00%s\x00%s\x00%s\x00%d", l.ID, to, e.Mode, e.Due.Unix())
	for _, it := range items {
		v.Items = append(v.Items, c.item(l, it))
		fmt.Fprintf(id, "\x00%s\x00%s", it.SourceID, it.Key)
	}

	m := &Message{From: c.site.From, To: to, Subject: subject, Date: now, ID: c.messageID(id.Sum(nil))}
	m.Header = []Field{
		{"List-Id", phrase(channel) + " <" + c.listID(l.ID) + ">"},
		{"List-Unsubscribe", "<" + unsubscribe + ">,\r\n <mailto:" + c.site.From.Address + "?subject=" + url.PathEscape("unsubscribe "+l.ID) + ">"},
	}
	if isHTTPS(unsubscribe) {
		m.Header = append(m.Header, Field{"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"})
	}
	m.Header = append(m.Header, Field{"Auto-Submitted", "auto-generated"}, Field{"Precedence", "list"})
	if err := c.render(m, "list", v); err != nil {
		return nil, err
	}
	return m, nil
}

// Confirmation composes the double opt-in mail for to: one link, to the
// page whose button confirms (a GET of the link changes nothing, since
// mail scanners open links), valid for ConfirmTTL. It carries no list
// headers, so nothing in it unsubscribes or subscribes by itself.
func (c *Composer) Confirmation(l List, to string, now time.Time) (*Message, error) {
	if err := checkTo(to); err != nil {
		return nil, err
	}
	channel := oneLine(l.Title, maxTitle)
	if channel == "" {
		channel = l.ID
	}
	subject := oneLine("Confirm your subscription to "+channel, maxSubject)
	v := c.base(to, subject)
	v.Channel, v.ChannelURL = channel, l.PageURL
	v.ConfirmURL = LinkURL(c.site.BaseURL, Confirm, c.tokens.Make(Confirm, l.ID, to, now))
	v.Expires = now.Add(ConfirmTTL).In(c.site.Location).Format("2 January 2006, 15:04 MST")
	id := sha256.New()
	fmt.Fprintf(id, "confirm\x00%s\x00%s\x00%d", l.ID, to, now.UnixNano())
	m := &Message{From: c.site.From, To: to, Subject: subject, Date: now, ID: c.messageID(id.Sum(nil))}
	m.Header = []Field{{"Auto-Submitted", "auto-generated"}}
	if err := c.render(m, "confirm", v); err != nil {
		return nil, err
	}
	return m, nil
}

// base is the view every mail starts from.
func (c *Composer) base(to, subject string) view {
	name := oneLine(c.site.From.Name, maxMeta)
	u, _ := url.Parse(c.site.BaseURL)
	if name == "" {
		name = u.Host
	}
	var postal []string
	for _, l := range strings.Split(c.site.PostalAddress, "\n") {
		if l = oneLine(l, maxMeta); l != "" {
			postal = append(postal, l)
		}
	}
	return view{Subject: subject, To: to, SiteName: name, SiteURL: c.site.BaseURL + "/", Postal: postal}
}

func (c *Composer) item(l List, it feed.Item) itemView {
	v := itemView{Title: oneLine(it.Title, maxTitle), Link: it.Link}
	if !linkable(v.Link) || strings.HasPrefix(v.Link, "mailto:") {
		v.Link = ""
	}
	if v.Title == "" {
		v.Title = "(untitled)"
	}
	src := l.Sources[it.SourceID]
	if src == "" {
		src = it.SourceID
	}
	v.Source = oneLine(src, maxMeta)
	var names []string
	for _, a := range it.Authors {
		if n := oneLine(a.Name, maxMeta); n != "" {
			names = append(names, n)
		}
	}
	v.Byline = oneLine(strings.Join(names, ", "), maxMeta)
	if t := it.Sort(); !t.IsZero() {
		v.Date = t.In(c.site.Location).Format("2 January 2006")
	}
	summary := it.Summary
	if strings.TrimSpace(summary) == "" {
		summary = it.Content
	}
	ct := itemContent(c.policy, summary)
	v.HTML, v.Text = ct.HTML, ct.Text
	return v
}

// render fills m's bodies from the templates name.html and name.txt.
func (c *Composer) render(m *Message, name string, v view) error {
	var h, t bytes.Buffer
	if err := htmlTemplates.ExecuteTemplate(&h, name+".html", v); err != nil {
		return fmt.Errorf("compose %s: %w", name, err)
	}
	if err := textTemplates.ExecuteTemplate(&t, name+".txt", v); err != nil {
		return fmt.Errorf("compose %s: %w", name, err)
	}
	m.HTML, m.Text = h.String(), t.String()
	return nil
}

// messageID is a Message-ID under the From domain made from sum.
func (c *Composer) messageID(sum []byte) string {
	return hex.EncodeToString(sum[:16]) + "@" + c.domain
}

// listID is the list-id of RFC 2919: the channel id under the From
// domain, as a dot-atom.
func (c *Composer) listID(channel string) string {
	var labels []string
	for _, l := range strings.Split(channel, ".") {
		if l != "" {
			labels = append(labels, l)
		}
	}
	return strings.Join(append(labels, c.domain), ".")
}

// checkTo makes sure to is an address as ParseAddress returns it, so that
// nothing unchecked reaches a header.
func checkTo(to string) error {
	got, err := ParseAddress(to)
	if err != nil {
		return fmt.Errorf("compose: recipient: %w", err)
	}
	if got != to {
		return fmt.Errorf("compose: recipient %q is not in the form ParseAddress returns (%q)", to, got)
	}
	return nil
}

// maxPhrase is the most runes of the channel title in List-Id.
const maxPhrase = 60

// phrase writes s, cut to maxPhrase runes, as the display-name phrase of a
// header field: a quoted string when it is printable ASCII, else RFC 2047
// encoded words, one per folded line.
func phrase(s string) string {
	s = oneLine(s, maxPhrase)
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			ascii = false
			break
		}
	}
	if !ascii {
		return strings.ReplaceAll(mime.BEncoding.Encode("utf-8", s), "?= =?", "?=\r\n =?")
	}
	return strconv.Quote(s) // s is printable ASCII: Quote only escapes \ and "
}

// count says "1 new item" or "N new items".
func count(n int) string {
	if n == 1 {
		return "1 new item"
	}
	return fmt.Sprintf("%d new items", n)
}
