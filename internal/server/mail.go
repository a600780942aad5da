package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/mail"
	"github.com/kpolicy/aggregator/internal/publish"
)

// MailLists is what the mailing-list routes ask of the service (internal/
// app's lists): the server renders the pages, the service decides and
// writes. Errors with feed codes are shown on the page (EINVALID: what is
// wrong with the address or the link; ENOTFOUND: no such list or sign-up);
// ErrTooManySignups is a 429.
type MailLists interface {
	// Subscribe signs address up for channel's list, asked by client. It
	// returns nil whether the address was new, pending or subscribed.
	Subscribe(ctx context.Context, channel, address string, client netip.Addr) error
	// Link opens a link's token made for p (mail.ErrInvalidLink,
	// mail.ErrExpiredLink).
	Link(token string, p mail.Purpose) (mail.Claims, error)
	// Confirm confirms the sign-up c names.
	Confirm(ctx context.Context, c mail.Claims) error
	// Unsubscribe takes c's address off c's channel's list.
	Unsubscribe(ctx context.Context, c mail.Claims) error
	// Digest returns the subscriber's digest choice ("" for the channel's).
	Digest(ctx context.Context, c mail.Claims) (string, error)
	// SetDigest sets it.
	SetDigest(ctx context.Context, c mail.Claims, digest string) error
}

// ErrTooManySignups is a client over its sign-up rate.
var ErrTooManySignups = errors.New("too many sign-ups from your network; try again in an hour")

// maxMailForm bounds the body of the mail routes' forms.
const maxMailForm = 4 << 10

// oneClick is the body of an RFC 8058 one-click unsubscribe.
const oneClick = "List-Unsubscribe=One-Click"

type mailPage struct {
	Title   string
	Channel string // the channel's title
	Home    string // the channel's page
	Message string
	// Action and Button make the page's one form; "" for none.
	Action, Button string
	// The manage page: the choices, the current one, and the leave form.
	Digests     []digestChoice
	LeaveAction string
}

type digestChoice struct {
	Value, Label string
	Checked      bool
}

func (s *Server) mailRoutes() {
	if s.MailAdmin != nil {
		s.mux.HandleFunc("GET /admin/mail/export", s.admin(s.handleAdminMailExport))
		s.mux.HandleFunc("POST /admin/mail/remove", s.admin(s.handleAdminMailRemove))
	}
	if s.Lists == nil {
		return
	}
	s.mux.HandleFunc("POST /channels/{id}/subscribe", s.handleSubscribe)
	for _, p := range []mail.Purpose{mail.Confirm, mail.Unsubscribe, mail.Manage} {
		s.mux.HandleFunc("GET "+mail.Pattern(p), s.handleMailLink(p))
		s.mux.HandleFunc("POST "+mail.Pattern(p), s.handleMailPost(p))
	}
}

// mailChannel is the channel id names when it has a mailing list.
func (s *Server) mailChannel(id string) (*publish.Channel, bool) {
	ch, ok := s.feeds.Channel(id)
	return ch, ok && s.Lists != nil && ch.Channel.Mail.Mode != ""
}

func (s *Server) mailForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxMailForm)
	var err error
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		err = r.ParseMultipartForm(maxMailForm) // RFC 8058 allows either form encoding
	} else {
		err = r.ParseForm()
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.errorPage(w, r, failure{status: http.StatusRequestEntityTooLarge, msg: "the form is too large"})
		} else {
			s.pageError(w, r, feed.Errorf(feed.EINVALID, "the form could not be read"))
		}
		return false
	}
	return true
}

func clientAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, _ := netip.ParseAddr(host)
	return ip
}

// handleSubscribe is POST /channels/{id}/subscribe: the same page for a
// new, pending or subscribed address; a 400 page saying what is wrong with
// a malformed one.
func (s *Server) handleSubscribe(w http.ResponseWriter, r *http.Request) {
	ch, ok := s.mailChannel(r.PathValue("id"))
	if !ok {
		s.pageError(w, r, feed.Errorf(feed.ENOTFOUND, "this channel has no mailing list"))
		return
	}
	if !s.mailForm(w, r) {
		return
	}
	err := s.Lists.Subscribe(r.Context(), ch.Channel.ID, r.PostForm.Get("email"), clientAddr(r))
	if errors.Is(err, ErrTooManySignups) {
		f := failure{status: http.StatusTooManyRequests, msg: err.Error(), retryAfter: 3600}
		s.errorPage(w, r, f)
		return
	}
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.render(w, r, "mail.html", mailPage{
		Title: "Check your inbox", Channel: ch.Channel.Title, Home: channelPath(ch),
		Message: "If this address can receive mail from " + ch.Channel.Title + ", a message with a link to confirm is on its way. " +
			"Open it to start receiving mail; nothing is sent until you confirm. If you are already subscribed, nothing changes.",
	})
}

func channelPath(ch *publish.Channel) string { return "/channels/" + ch.Channel.ID }

// link opens the request's token for p, or writes the error page.
func (s *Server) link(w http.ResponseWriter, r *http.Request, p mail.Purpose) (mail.Claims, *publish.Channel, bool) {
	c, err := s.Lists.Link(r.PathValue("token"), p)
	if err != nil {
		s.pageError(w, r, err)
		return c, nil, false
	}
	ch, ok := s.mailChannel(c.Channel)
	if !ok {
		s.pageError(w, r, feed.Errorf(feed.ENOTFOUND, "this channel has no mailing list any more"))
		return c, nil, false
	}
	return c, ch, true
}

// handleMailLink is the GET of a link in a mail: a page with a button,
// never a change (mail scanners open links).
func (s *Server) handleMailLink(p mail.Purpose) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, ch, ok := s.link(w, r, p)
		if !ok {
			return
		}
		v := mailPage{Channel: ch.Channel.Title, Home: channelPath(ch), Action: r.URL.Path}
		switch p {
		case mail.Confirm:
			v.Title, v.Button = "Confirm your subscription", "Confirm"
			v.Message = "Press the button to receive " + ch.Channel.Title + " by e-mail."
		case mail.Unsubscribe:
			v.Title, v.Button = "Unsubscribe", "Unsubscribe"
			v.Message = "Press the button to stop receiving " + ch.Channel.Title + " by e-mail."
		case mail.Manage:
			d, err := s.Lists.Digest(r.Context(), c)
			if err != nil {
				s.pageError(w, r, err)
				return
			}
			v.Title, v.Button = "Your subscription", "Save"
			v.Message = "How often would you like to receive " + ch.Channel.Title + "?"
			v.Digests = digestChoices(ch.Channel.Mail.Mode, d)
			v.LeaveAction = r.URL.Path
		}
		s.render(w, r, "mail.html", v)
	}
}

func digestChoices(channel, chosen string) []digestChoice {
	if chosen == "" {
		chosen = channel
	}
	var out []digestChoice
	for _, m := range feed.DigestModes() {
		label := map[string]string{feed.DigestInstant: "Each new item, as it arrives", feed.DigestDaily: "Once a day", feed.DigestWeekly: "Once a week"}[m]
		out = append(out, digestChoice{Value: m, Label: label, Checked: m == chosen})
	}
	return out
}

// handleMailPost is the POST of a link's button, and RFC 8058's one-click
// unsubscribe (body "List-Unsubscribe=One-Click": done at once, no page).
func (s *Server) handleMailPost(p mail.Purpose) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.mailForm(w, r) {
			return
		}
		c, ch, ok := s.link(w, r, p)
		if !ok {
			return
		}
		v := mailPage{Channel: ch.Channel.Title, Home: channelPath(ch)}
		var err error
		switch {
		case p == mail.Confirm:
			err = s.Lists.Confirm(r.Context(), c)
			v.Title, v.Message = "Subscribed", "You will receive "+ch.Channel.Title+" by e-mail. Every mail has a link to change how often, or to leave."
		case p == mail.Unsubscribe && r.PostForm.Get("List-Unsubscribe") == "One-Click":
			if err = s.Lists.Unsubscribe(r.Context(), c); err != nil {
				s.Error(w, r, err)
				return
			}
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Write([]byte("unsubscribed\n"))
			return
		case p == mail.Unsubscribe, p == mail.Manage && r.PostForm.Has("leave"):
			err = s.Lists.Unsubscribe(r.Context(), c)
			v.Title, v.Message = "Unsubscribed", "You will receive no more mail from "+ch.Channel.Title+"."
		case p == mail.Manage:
			d := strings.TrimSpace(r.PostForm.Get("digest"))
			if err = s.Lists.SetDigest(r.Context(), c, d); err == nil {
				v.Title, v.Message = "Saved", "Your choice is saved."
				v.Digests = digestChoices(ch.Channel.Mail.Mode, d)
				v.Action, v.Button, v.LeaveAction = r.URL.Path, "Save", r.URL.Path
			}
		}
		if err != nil {
			s.pageError(w, r, err)
			return
		}
		s.render(w, r, "mail.html", v)
	}
}

// MailListStatus is one mailing list on GET /status and /metrics: counts
// and the sender's state, never an address. The JSON names are part of
// the /status?format=json contract.
type MailListStatus struct {
	Channel   string    `json:"channel"`
	Digest    string    `json:"digest"`
	Confirmed int       `json:"confirmed"`
	Pending   int       `json:"pending"`
	Bounced   int       `json:"bounced"`
	LastSend  time.Time `json:"last_send,omitzero"`
	Queue     int       `json:"queue"`  // subscribers due at the last pass
	Sent      uint64    `json:"sent"`   // mails sent since start
	Failed    uint64    `json:"failed"` // sends failed since start
	LastError string    `json:"last_error,omitempty"`
	RetryAt   time.Time `json:"retry_at,omitzero"` // sending stopped until then (SMTP failing)
}

// mailStatus is the lists' status, or nil when there are none.
func (s *Server) mailStatus(ctx context.Context) ([]MailListStatus, error) {
	if s.MailStatus == nil {
		return nil, nil
	}
	return s.MailStatus(ctx)
}

// MailAdmin is what the admin API does with the mailing lists, for
// "aggregator mail export" and "aggregator mail remove".
type MailAdmin interface {
	// ExportList returns a channel's subscribers (app.ListRow).
	ExportList(ctx context.Context, channel string) (any, error)
	// EraseAddress removes an address from every list and returns the
	// channels it was on.
	EraseAddress(ctx context.Context, address string) (any, error)
}

// handleAdminMailExport is GET /admin/mail/export?channel=ID.
func (s *Server) handleAdminMailExport(w http.ResponseWriter, r *http.Request) {
	res, err := s.MailAdmin.ExportList(r.Context(), r.URL.Query().Get("channel"))
	if err != nil {
		s.Error(w, r, err)
		return
	}
	s.writeJSON(w, r, res)
}

// handleAdminMailRemove is POST /admin/mail/remove?address=A.
func (s *Server) handleAdminMailRemove(w http.ResponseWriter, r *http.Request) {
	res, err := s.MailAdmin.EraseAddress(r.Context(), r.URL.Query().Get("address"))
	if err != nil {
		s.Error(w, r, err)
		return
	}
	s.writeJSON(w, r, res)
}
