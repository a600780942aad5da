package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"sync"
	"time"

	"github.com/kpolicy/aggregator/internal/config"
	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/mail"
	"github.com/kpolicy/aggregator/internal/server"
	"github.com/kpolicy/aggregator/internal/store"
)

// The mailing lists: the sign-up service the routes call
// (server.MailLists) and the sender loop, a goroutine of Run.
//
// Each pass of the loop reads, for every channel with a list, the last
// member Seq of its membership index and walks its subscribers a page at
// a time; each one due (instant: members after its SentSeq; daily and
// weekly: mail.Next of its last digest has passed) goes to one of a few
// workers, each holding one SMTP session. A worker claims the send in the
// store (ClaimSend: atomic, so that instances sharing a store never mail
// one subscriber twice), reads the members the claim names, sends one
// mail, and records the outcome (FinishSend). A crash between claim and
// finish leaves the claim's Pending in the store: the next claim, after
// it expires, sends exactly it again, with the same Message-ID (see
// docs/mail.md, "Nothing lost, nothing twice").

// Defaults of the lists.
const (
	mailEvery    = 15 * time.Second // a pass, at least this often (and when a channel's members change)
	mailSessions = 4                // SMTP sessions at once
	mailBatch    = 1000             // sends per pass
	mailPage     = 500              // subscribers read at once
	mailClaim    = 2 * time.Minute  // how long a claimed send is ours
	mailMaxItems = 200              // members one mail reads
	mailBackoff  = 30 * time.Second // the first wait after SMTP fails; doubled up to mailMaxWait
	mailMaxWait  = 15 * time.Minute
	confirmQueue = 256 // confirmation mails waiting to be sent
)

// MailOptions tune the lists; the zero value is the default.
type MailOptions struct {
	// Every is the least often a pass looks for due mail (15 s).
	Every time.Duration
	// Sessions bounds the SMTP sessions at once (4); Batch the sends of
	// one pass (1000).
	Sessions, Batch int
	// Sender replaces the sender made from mail.smtp (tests: TLS roots).
	Sender *mail.Sender
	// RejectWait is how long an address the server refused (5xx) waits
	// before the same mail is tried again (1 hour); at the third refusal
	// in a row it is bounced.
	RejectWait time.Duration
	// Backoff is the first wait after SMTP fails (30 s), doubled at each
	// failure up to 15 minutes; also the wait of one address answered 4xx.
	Backoff time.Duration
	// Now is the lists' clock (tests: digests); the App's when nil.
	Now func() time.Time
	// Owner names this instance in send claims; random when "".
	Owner string
	// beforeFinish, when set (by tests), runs after the server took a
	// mail and before its send is recorded; an error stops the record, as
	// a crash there would.
	beforeFinish func(addr string) error
}

// lists is the App's mailing lists.
type lists struct {
	a      *App
	opts   MailOptions
	tokens *mail.Tokens
	owner  string

	clients   *mail.KeyLimit // sign-ups per client
	addresses *mail.KeyLimit // sign-ups per address and channel
	confirms  chan confirmJob
	kick      chan struct{}

	mu       sync.Mutex
	composer *mail.Composer
	forCfg   *config.Config // the config composer was made for
	sender   *mail.Sender
	state    map[string]*listState
	// cursor is, per channel, the address a pass that ran out of its
	// batch stopped after: the next pass goes on from there.
	cursor  map[string]string
	retryAt time.Time
	wait    time.Duration
	lastErr string
}

// listState is what /status shows of one list beside the store's counts.
type listState struct {
	LastSend  time.Time
	LastError string
	Queue     int // due at the last pass
	Sent      uint64
	Failed    uint64
	Bounced   uint64
}

type confirmJob struct {
	channel, address string
}

// newLists returns the lists of a, or nil when the config has no mail
// block. It reads (or makes) the links' secret in the store.
func newLists(ctx context.Context, a *App, opts MailOptions) (*lists, error) {
	if !a.Config().Mail.Enabled() {
		return nil, nil
	}
	candidate, err := mail.NewSecret()
	if err != nil {
		return nil, err
	}
	secret, err := a.st.MailSecret(ctx, candidate)
	if err != nil {
		return nil, fmt.Errorf("mail: %w", err)
	}
	tokens, err := mail.NewTokens(secret)
	if err != nil {
		return nil, err
	}
	if opts.Every <= 0 {
		opts.Every = mailEvery
	}
	if opts.Sessions <= 0 {
		opts.Sessions = mailSessions
	}
	if opts.Batch <= 0 {
		opts.Batch = mailBatch
	}
	if opts.Now == nil {
		opts.Now = a.now
	}
	if opts.Backoff <= 0 {
		opts.Backoff = mailBackoff
	}
	if opts.RejectWait <= 0 {
		opts.RejectWait = time.Hour
	}
	owner := opts.Owner
	if owner == "" {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		owner = "mail-" + hex.EncodeToString(b)
	}
	return &lists{
		a: a, opts: opts, tokens: tokens, owner: owner,
		clients:   mail.NewKeyLimit(mail.LimitKeys, time.Hour/mail.SignupsPerHour, mail.SignupBurst),
		addresses: mail.NewKeyLimit(mail.LimitKeys, time.Hour/mail.SignupsPerHour, mail.SignupBurst),
		confirms:  make(chan confirmJob, confirmQueue),
		kick:      make(chan struct{}, 1),
		state:     map[string]*listState{},
		cursor:    map[string]string{},
	}, nil
}

// Kick asks for a pass soon; it never blocks. A nil lists ignores it.
func (l *lists) Kick() {
	if l == nil {
		return
	}
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// channel returns the configured channel id when it has a list.
func (l *lists) channel(id string) (feed.Channel, bool) {
	for _, c := range l.a.Config().Channels {
		if c.ID == id && c.Mail.Mode != "" {
			return c, true
		}
	}
	return feed.Channel{}, false
}

// tools returns the composer and sender of the running config, made again
// after a reload.
func (l *lists) tools() (*mail.Composer, *mail.Sender, error) {
	cfg := l.a.cfg.Load()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.forCfg != cfg {
		c, err := mail.NewComposer(mail.Site{From: cfg.Mail.From, BaseURL: cfg.Server.BaseURL,
			PostalAddress: cfg.Mail.PostalAddress, Location: cfg.Mail.Timezone}, l.tokens)
		if err != nil {
			return nil, nil, err
		}
		l.composer, l.forCfg = c, cfg
		l.sender = l.opts.Sender
		if l.sender == nil {
			l.sender = mail.NewSender(cfg.Mail.SMTP, mail.SenderOptions{})
		}
	}
	return l.composer, l.sender, nil
}

// list is how mail names channel c.
func (l *lists) list(c feed.Channel) mail.List {
	cfg := l.a.Config()
	names := make(map[string]string, len(cfg.Sources))
	for _, s := range cfg.Sources {
		if s.Title != "" {
			names[s.ID] = s.Title
		}
	}
	return mail.List{ID: c.ID, Title: c.Title, PageURL: cfg.Server.BaseURL + "/channels/" + c.ID, Sources: names}
}

// Subscribe is server.MailLists.Subscribe: the same nil for a new,
// pending or subscribed address; the confirmation mail (one an hour per
// address, decided by the store) is queued for the loop, so that the
// answer takes as long whatever the address.
func (l *lists) Subscribe(ctx context.Context, channel, raw string, client netip.Addr) error {
	if _, ok := l.channel(channel); !ok {
		return feed.Errorf(feed.ENOTFOUND, "this channel has no mailing list")
	}
	addr, err := mail.ParseAddress(raw)
	if err != nil {
		return err
	}
	now := l.opts.Now()
	if client.IsValid() && !l.clients.Allow(mail.ClientKey(client), now) {
		return server.ErrTooManySignups
	}
	if !l.addresses.Allow(channel+"\x00"+addr, now) {
		return nil // the same answer; nothing more for this address now
	}
	sub, _, err := l.a.st.AddSubscriber(ctx, store.Subscriber{Channel: channel, Address: addr, Created: now})
	if err != nil {
		return err
	}
	if sub.State != store.Pending {
		return nil
	}
	ok, err := l.a.st.MarkConfirmSent(ctx, channel, addr, now, mail.ConfirmEvery)
	if err != nil || !ok {
		return err
	}
	select {
	case l.confirms <- confirmJob{channel, addr}:
	default:
		l.a.log.Warn("mail: confirmation queue full; the reader can sign up again in an hour", "channel", channel)
	}
	return nil
}

// Link is server.MailLists.Link.
func (l *lists) Link(token string, p mail.Purpose) (mail.Claims, error) {
	return l.tokens.Open(token, p, l.opts.Now())
}

// Confirm is server.MailLists.Confirm: the subscriber's mail starts after
// the channel's newest member.
func (l *lists) Confirm(ctx context.Context, c mail.Claims) error {
	last, err := l.a.members.LastSeq(ctx, c.Channel)
	if err != nil {
		return err
	}
	_, err = l.a.st.ConfirmSubscriber(ctx, c.Channel, c.Address, l.opts.Now(), last)
	if feed.ErrorCode(err) == feed.ENOTFOUND {
		return feed.Errorf(feed.ENOTFOUND, "this sign-up has expired or was removed; sign up again on the channel's page")
	}
	return err
}

// Unsubscribe is server.MailLists.Unsubscribe.
func (l *lists) Unsubscribe(ctx context.Context, c mail.Claims) error {
	return l.a.st.RemoveSubscriber(ctx, c.Channel, c.Address)
}

// Digest is server.MailLists.Digest.
func (l *lists) Digest(ctx context.Context, c mail.Claims) (string, error) {
	s, err := l.a.st.Subscriber(ctx, c.Channel, c.Address)
	if err != nil {
		if feed.ErrorCode(err) == feed.ENOTFOUND {
			return "", feed.Errorf(feed.ENOTFOUND, "this address is not subscribed any more")
		}
		return "", err
	}
	return s.Digest, nil
}

// SetDigest is server.MailLists.SetDigest.
func (l *lists) SetDigest(ctx context.Context, c mail.Claims, digest string) error {
	return l.a.st.SetDigest(ctx, c.Channel, c.Address, digest)
}

// run is the sender loop and the confirmation sender, until ctx ends. A
// nil lists returns at once.
func (l *lists) run(ctx context.Context) {
	if l == nil {
		return
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { l.sendConfirmations(ctx) })
	t := time.NewTicker(l.opts.Every)
	defer t.Stop()
	var pruned time.Time
	for {
		now := l.opts.Now()
		if now.Sub(pruned) >= time.Hour {
			if n, err := l.a.st.PrunePending(ctx, now.Add(-mail.ConfirmTTL)); err != nil {
				l.a.log.Error("mail: prune pending sign-ups", "err", err)
			} else {
				pruned = now
				if n > 0 {
					l.a.log.Info("mail: expired pending sign-ups", "count", n)
				}
			}
		}
		l.pass(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-l.kick:
		}
	}
}

func (l *lists) sendConfirmations(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-l.confirms:
			if err := l.confirm(ctx, j); err != nil {
				l.a.log.Error("mail: confirmation", "channel", j.channel, "err", err)
			}
		}
	}
}

func (l *lists) confirm(ctx context.Context, j confirmJob) error {
	c, ok := l.channel(j.channel)
	if !ok {
		return nil
	}
	composer, sender, err := l.tools()
	if err != nil {
		return err
	}
	m, err := composer.Confirmation(l.list(c), j.address, l.opts.Now())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	return sender.Send(ctx, m)[0]
}

// sendJob is one subscriber due for mail.
type sendJob struct {
	ch     feed.Channel
	sub    store.Subscriber
	upTo   uint64
	period time.Time
}

// digestOf is the digest a subscriber gets: its choice, on the channel's
// time of day.
func digestOf(ch feed.Channel, s store.Subscriber) feed.Digest {
	d := ch.Mail
	if s.Digest != "" && s.Digest != d.Mode {
		d.Mode = s.Digest
		if !ch.Mail.Scheduled() {
			d.Hour, d.Minute = 7, 0 // config.DefaultDigestAt
		}
		if ch.Mail.Mode != feed.DigestWeekly {
			d.Weekday = config.DefaultDigestWeekday
		}
	}
	return d
}

// pass sends what is due now, up to the batch.
func (l *lists) pass(ctx context.Context) {
	now := l.opts.Now()
	l.mu.Lock()
	wait := now.Before(l.retryAt)
	l.mu.Unlock()
	if wait {
		return
	}
	cfg := l.a.Config()
	_, _, err := l.tools()
	if err != nil {
		l.fail(err)
		return
	}
	jobs := make(chan sendJob)
	var (
		wg      sync.WaitGroup
		stopped = make(chan struct{})
		stop    sync.Once
	)
	abort := func() { stop.Do(func() { close(stopped) }) }
	for range l.opts.Sessions {
		wg.Go(func() { l.worker(ctx, jobs, abort) })
	}
	budget := l.opts.Batch
feed:
	for _, ch := range cfg.Channels {
		if ch.Mail.Mode == "" {
			continue
		}
		last, err := l.a.members.LastSeq(ctx, ch.ID)
		if err != nil {
			continue // not built yet
		}
		loc := cfg.Mail.Timezone
		queue := 0
		l.mu.Lock()
		start := l.cursor[ch.ID]
		l.mu.Unlock()
		if budget == 0 {
			continue
		}
		for after := start; ; {
			subs, err := l.a.st.Subscribers(ctx, ch.ID, after, mailPage)
			if err != nil {
				l.a.log.Error("mail: subscribers", "channel", ch.ID, "err", err)
				break
			}
			for _, s := range subs {
				if s.State != store.Confirmed || (s.Owner != l.owner && now.Before(s.Until)) {
					continue
				}
				j := sendJob{ch: ch, sub: s, upTo: last}
				d := digestOf(ch, s)
				switch {
				case s.Pending != nil:
				case d.Scheduled():
					due := mail.Next(d, loc, s.LastPeriod)
					if due.IsZero() || now.Before(due) {
						continue
					}
					j.period = due
				case last <= s.SentSeq:
					continue
				}
				queue++
				select {
				case jobs <- j:
					budget--
				case <-stopped:
					budget = -1
				case <-ctx.Done():
					break feed
				}
				if budget <= 0 {
					break
				}
			}
			switch {
			case budget == 0 && len(subs) > 0:
				// Out of batch: the next pass, at once, goes on after the
				// last subscriber read (those after it in this page too).
				l.mu.Lock()
				l.cursor[ch.ID] = after
				l.mu.Unlock()
				l.Kick()
			case budget > 0 && len(subs) == mailPage:
				after = subs[len(subs)-1].Address
				continue
			default:
				l.mu.Lock()
				l.cursor[ch.ID] = ""
				if start != "" && budget > 0 {
					l.Kick() // started midway: the first addresses' turn
				}
				l.mu.Unlock()
			}
			break
		}
		l.mu.Lock()
		l.stateOf(ch.ID).Queue = queue
		l.mu.Unlock()
		if budget < 0 {
			break
		}
	}
	close(jobs)
	wg.Wait()
}

func (l *lists) stateOf(channel string) *listState {
	st := l.state[channel]
	if st == nil {
		st = &listState{}
		l.state[channel] = st
	}
	return st
}

// fail records an SMTP failure that stops sending: the next pass waits,
// twice as long each time, up to mailMaxWait.
func (l *lists) fail(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.wait = min(max(2*l.wait, l.opts.Backoff), mailMaxWait)
	l.retryAt = l.opts.Now().Add(l.wait)
	l.lastErr = err.Error()
	l.a.log.Error("mail: sending stopped", "retry_in", l.wait, "err", err)
}

// worker sends jobs over one session, opened at the first.
func (l *lists) worker(ctx context.Context, jobs <-chan sendJob, abort func()) {
	var ss *mail.Session
	defer func() {
		if ss != nil {
			_ = ss.Close()
		}
	}()
	broken := false
	for j := range jobs {
		if broken {
			continue
		}
		if err := l.send(ctx, j, &ss); err != nil {
			broken = true
			abort()
			l.fail(err)
		}
	}
}

// send claims j's send, mails it and records it. It returns an error only
// when sending must stop (the server or the store fails).
func (l *lists) send(ctx context.Context, j sendJob, ss **mail.Session) error {
	st, now := l.a.st, l.opts.Now()
	sub, ok, err := st.ClaimSend(ctx, store.SendClaim{Channel: j.ch.ID, Address: j.sub.Address, Owner: l.owner,
		Now: now, Until: now.Add(mailClaim), UpTo: j.upTo, Period: j.period})
	if err != nil || !ok {
		return err
	}
	// What follows is recorded even when ctx ends: a mail sent must be
	// logged.
	finish := func(r store.SendResult) error {
		r.Now = l.opts.Now()
		_, err := st.FinishSend(context.WithoutCancel(ctx), j.ch.ID, j.sub.Address, l.owner, r)
		return err
	}
	p := sub.Pending
	items, err := l.a.members.Since(ctx, j.ch.ID, p.After, p.UpTo, mailMaxItems)
	if err != nil {
		return errors.Join(err, finish(store.SendResult{Err: err.Error()}))
	}
	if len(items) == 0 {
		return finish(store.SendResult{Sent: true})
	}
	slices.Reverse(items) // newest first
	mode := feed.DigestInstant
	if !p.Period.IsZero() {
		mode = digestOf(j.ch, sub).Mode
		if mode == feed.DigestInstant {
			mode = feed.DigestDaily
		}
	}
	composer, sender, err := l.tools()
	if err != nil {
		return errors.Join(err, finish(store.SendResult{Err: err.Error()}))
	}
	m, err := composer.Mail(l.list(j.ch), sub.Address, mail.Edition{Mode: mode, Due: p.Period, Items: items}, now)
	if err != nil {
		// A record that cannot be composed is this address's problem.
		return finish(store.SendResult{Rejected: true, Err: err.Error()})
	}
	if *ss == nil {
		if *ss, err = sender.Open(ctx); err != nil {
			return errors.Join(err, finish(store.SendResult{Err: err.Error()}))
		}
	}
	err = (*ss).Send(ctx, m)
	l.mu.Lock()
	ls := l.stateOf(j.ch.ID)
	switch {
	case err == nil:
		ls.Sent++
		ls.LastSend = now
		l.wait, l.lastErr = 0, ""
	case errors.Is(err, mail.ErrRejected):
		ls.Failed++
		ls.LastError = err.Error()
		if sub.Bounces+1 >= store.MaxBounces {
			ls.Bounced++
		}
	default:
		ls.Failed++
		ls.LastError = err.Error()
	}
	l.mu.Unlock()
	if err != nil {
		l.a.log.Warn("mail: send failed", "channel", j.ch.ID, "err", noAddresses(err.Error()))
	}
	switch {
	case err == nil:
		if l.opts.beforeFinish != nil {
			if herr := l.opts.beforeFinish(sub.Address); herr != nil {
				return herr
			}
		}
		return finish(store.SendResult{Sent: true, Mailed: true})
	case errors.Is(err, mail.ErrRejected):
		return finish(store.SendResult{Rejected: true, Err: err.Error(), Wait: l.opts.RejectWait})
	case addressTemporary(err):
		// Greylisting, a full mailbox: this address waits, the others go on.
		return finish(store.SendResult{Err: err.Error(), Wait: l.opts.Backoff})
	default:
		return errors.Join(err, finish(store.SendResult{Err: err.Error()}))
	}
}

// addressTemporary reports whether err is a 4xx to this address's RCPT TO
// or DATA: the server is there, and will take others' mail.
func addressTemporary(err error) bool {
	var se *mail.SendError
	return errors.As(err, &se) && errors.Is(err, mail.ErrTemporary) && se.Code >= 400 && se.Code < 500 && se.Code != 421 &&
		(se.Stage == "RCPT TO" || se.Stage == "DATA")
}

// anAddress is anything that looks like an address in an SMTP reply.
var anAddress = regexp.MustCompile(`[^\s<>"':;,()\[\]]+@[^\s<>"':;,()\[\]]+`)

// noAddresses hides the addresses an SMTP error quotes ("550 <bob@x>: no
// such user"): /status is public.
func noAddresses(s string) string { return anAddress.ReplaceAllString(s, "[address]") }

// Status is what /status and /metrics show of the lists.
func (l *lists) Status(ctx context.Context) ([]server.MailListStatus, error) {
	if l == nil {
		return nil, nil
	}
	l.mu.Lock()
	retry, lastErr := l.retryAt, l.lastErr
	l.mu.Unlock()
	var out []server.MailListStatus
	for _, ch := range l.a.Config().Channels {
		if ch.Mail.Mode == "" {
			continue
		}
		n, err := l.a.st.ListCounts(ctx, ch.ID)
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		s := *l.stateOf(ch.ID)
		l.mu.Unlock()
		st := server.MailListStatus{Channel: ch.ID, Digest: ch.Mail.Mode,
			Confirmed: n.Confirmed, Pending: n.Pending, Bounced: n.Bounced,
			LastSend: s.LastSend, Queue: s.Queue, Sent: s.Sent, Failed: s.Failed, LastError: noAddresses(s.LastError)}
		if l.opts.Now().Before(retry) {
			st.RetryAt, st.LastError = retry, noAddresses(lastErr)
		}
		out = append(out, st)
	}
	return out, nil
}
