package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// DefaultTimeout bounds connecting and each SMTP exchange of a Sender
// whose options leave Timeout zero.
const DefaultTimeout = 30 * time.Second

// SenderOptions tune a Sender; the zero value is the default.
type SenderOptions struct {
	// Timeout bounds dialling, and each exchange with the server once
	// connected; 0 means DefaultTimeout.
	Timeout time.Duration
	// TLS is the TLS configuration for STARTTLS and smtps; nil verifies
	// the server's certificate against the system's roots for Host.
	// Tests set RootCAs here.
	TLS *tls.Config
	// HELO is the name given in EHLO; "" is the machine's host name.
	HELO string
}

// Sender sends mail through the SMTP server of mail.smtp, with go-mail.
// It holds only settings: it is safe for concurrent use, and each Session
// it opens is one connection.
type Sender struct {
	server Server
	opts   SenderOptions
}

// NewSender returns a Sender for server.
func NewSender(server Server, opts SenderOptions) *Sender {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	return &Sender{server: server, opts: opts}
}

// Server is the server s sends through (its String hides the password).
func (s *Sender) Server() Server { return s.server }

// Send sends the messages over one connection, in order, and returns one
// error per message (nil for each one sent). When the connection cannot be
// opened every message gets that error.
func (s *Sender) Send(ctx context.Context, msgs ...*Message) []error {
	errs := make([]error, len(msgs))
	ss, err := s.Open(ctx)
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	defer ss.Close()
	for i, m := range msgs {
		errs[i] = ss.Send(ctx, m)
	}
	return errs
}

// Open connects, greets, starts TLS (always for smtps://; for smtp:// when
// the server offers STARTTLS) and authenticates when mail.smtp has a user.
// A password is never sent over an unencrypted connection to another
// machine: that is an ErrServer. The error is a *SendError.
func (s *Sender) Open(ctx context.Context) (*Session, error) {
	ss := &Session{sender: s}
	if err := ss.dial(ctx); err != nil {
		return nil, err
	}
	return ss, nil
}

// Session is one connection to the server, reused for a batch of mail.
// It is not safe for concurrent use; its Send is one SMTP transaction, so
// the caller can record what was sent around each. Close it when done.
type Session struct {
	sender *Sender
	client *gomail.Client
	mu     sync.Mutex // guards conn, which the context watcher closes
	conn   net.Conn
	dials  int
}

// Dials is how many connections the session has opened: 1, plus one for
// each time a broken connection was replaced.
func (ss *Session) Dials() int { return ss.dials }

func (ss *Session) dial(ctx context.Context) error {
	s := ss.sender
	tlsConf := s.opts.TLS.Clone()
	if tlsConf == nil {
		tlsConf = &tls.Config{}
	}
	if tlsConf.ServerName == "" {
		tlsConf.ServerName = s.server.Host
	}
	if tlsConf.MinVersion == 0 {
		tlsConf.MinVersion = tls.VersionTLS12
	}
	opts := []gomail.Option{
		gomail.WithPort(s.server.Port),
		gomail.WithTimeout(s.opts.Timeout),
		gomail.WithTLSConfig(tlsConf),
		// A connection is checked by the next MAIL FROM, not a NOOP
		// before it, and a finished transaction needs no RSET: two
		// round trips fewer per mail. A broken connection fails MAIL
		// FROM before anything was sent, and Send dials again.
		gomail.WithoutNoop(),
		gomail.WithoutRset(),
		gomail.WithDialContextFunc(func(ctx context.Context, network, addr string) (net.Conn, error) {
			d := &net.Dialer{}
			var (
				c   net.Conn
				err error
			)
			if s.server.ImplicitTLS {
				c, err = (&tls.Dialer{NetDialer: d, Config: tlsConf}).DialContext(ctx, network, addr)
			} else {
				c, err = d.DialContext(ctx, network, addr)
			}
			if err == nil {
				ss.mu.Lock()
				ss.conn = c
				ss.mu.Unlock()
			}
			return c, err
		}),
	}
	if s.server.ImplicitTLS {
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS)) // already TLS
	} else {
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if s.opts.HELO != "" {
		opts = append(opts, gomail.WithHELO(s.opts.HELO))
	}
	if s.server.Username != "" {
		opts = append(opts,
			// The strongest mechanism the server offers; PLAIN and LOGIN
			// only over TLS or to this machine (go-mail refuses them on
			// an unencrypted connection to another host).
			gomail.WithOpportunisticSMTPAuth(gomail.SMTPAuthSCRAMSHA256, gomail.SMTPAuthSCRAMSHA1,
				gomail.SMTPAuthPlain, gomail.SMTPAuthLogin, gomail.SMTPAuthCramMD5),
			gomail.WithUsername(s.server.Username),
			gomail.WithPassword(s.server.password))
	}
	c, err := gomail.NewClient(s.server.Host, opts...)
	if err != nil {
		return &SendError{Kind: ErrServer, Stage: "connect", Err: err}
	}
	ss.dials++
	err = ss.watch(ctx, func() error { return c.DialWithContext(ctx) })
	if err != nil {
		ss.closeConn()
		if ctx.Err() != nil {
			return &SendError{Kind: ErrTemporary, Stage: "connect", Err: ctx.Err()}
		}
		return classifyDial(err)
	}
	ss.client = c
	return nil
}

// Send sends m in one SMTP transaction. A nil error means the server took
// it. If the connection broke since the last mail (the server closed an
// idle connection, say) it dials again first; a transaction that fails
// before any of the message was sent is tried once more on a new
// connection. The error is a *SendError wrapping ErrTemporary, ErrRejected
// or ErrServer.
func (ss *Session) Send(ctx context.Context, m *Message) error {
	gm, err := m.msg()
	if err != nil {
		return &SendError{Kind: ErrRejected, Stage: "compose", Err: err}
	}
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return &SendError{Kind: ErrTemporary, Stage: "connect", Err: err}
		}
		if ss.client == nil {
			if err := ss.dial(ctx); err != nil {
				return err
			}
		}
		err := ss.watch(ctx, func() error { return ss.client.Send(gm) })
		if err == nil || gm.IsDelivered() {
			// Delivered: a failure after the server took the message
			// (none today, as RSET is off) must not make it be sent again.
			return nil
		}
		if ctx.Err() != nil {
			ss.drop()
			return &SendError{Kind: ErrTemporary, Stage: "DATA", Err: ctx.Err()}
		}
		e := classifySend(err)
		if e.Code == 0 || e.Code == 421 {
			// No reply, or the server is closing: the connection is gone.
			ss.drop()
			if attempt == 0 && (e.Stage == "MAIL FROM" || e.Stage == "connect") {
				continue // nothing was sent: a new connection, once
			}
			return e
		}
		if e.Stage == "DATA" {
			// A refused DATA leaves the transaction to be reset before
			// the next one; if even that fails, start afresh next time.
			if ss.client.Reset() != nil {
				ss.drop()
			}
		}
		return e
	}
}

// watch runs f, closing the connection if ctx ends first so that f
// returns at once rather than at the timeout. The watcher is joined
// before watch returns.
func (ss *Session) watch(ctx context.Context, f func() error) error {
	done := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(done)
		ss.closeConn()
	})
	err := f()
	if !stop() {
		<-done // the watcher ran: wait for it to finish
	}
	return err
}

func (ss *Session) closeConn() {
	ss.mu.Lock()
	if ss.conn != nil {
		ss.conn.Close()
	}
	ss.mu.Unlock()
}

// drop forgets a broken connection; the next Send dials again.
func (ss *Session) drop() {
	ss.closeConn()
	ss.client = nil
}

// Close says QUIT and closes the connection. Mail already sent is not
// affected by its error.
func (ss *Session) Close() error {
	if ss.client == nil {
		return nil
	}
	err := ss.client.Close()
	ss.closeConn()
	ss.client = nil
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}
