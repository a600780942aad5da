package mail

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
	"github.com/kpolicy/aggregator/internal/mail/mailtest"
)

func mustServer(t testing.TB, raw string) Server {
	t.Helper()
	s, err := ParseServer(raw)
	if err != nil {
		t.Fatalf("ParseServer(%q): %v", raw, err)
	}
	return s
}

func instant(t testing.TB, c *Composer, to string, items ...feed.Item) *Message {
	t.Helper()
	if len(items) == 0 {
		items = testItems()[:1]
	}
	m, err := c.Mail(testList, to, Edition{Mode: feed.DigestInstant, Items: items}, t0)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestSendToMailpit sends list mail and a confirmation through a real SMTP
// server and reads them back as a mail client would.
func TestSendToMailpit(t *testing.T) {
	mp := mailtest.StartMailpit(t)
	c := testComposer(t, testBase)
	s := NewSender(mustServer(t, mp.SMTPURL()), SenderOptions{})
	ctx := t.Context()

	one := instant(t, c, "reader1@example.org") // one Korean item
	digest, err := c.Mail(testList, "reader2@example.org", Edition{Mode: feed.DigestDaily, Due: t0, Items: testItems()}, t0)
	if err != nil {
		t.Fatal(err)
	}
	confirm, err := c.Confirmation(testList, "reader3@example.org", t0)
	if err != nil {
		t.Fatal(err)
	}
	for i, err := range s.Send(ctx, one, digest, confirm) {
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	byTo := map[string]mailtest.Message{}
	for _, sum := range mp.WaitCount(t, 3) {
		m := mp.Message(t, sum.ID)
		byTo[m.To[0].Address] = m
	}
	for to, want := range map[string]*Message{"reader1@example.org": one, "reader2@example.org": digest, "reader3@example.org": confirm} {
		got, ok := byTo[to]
		if !ok {
			t.Fatalf("Mailpit has no mail to %s", to)
		}
		if got.Subject != want.Subject {
			t.Errorf("%s: Mailpit decodes the subject as %q, want %q", to, got.Subject, want.Subject)
		}
		if got.From == nil || got.From.Address != "updates@keia.org" || got.From.Name != "The Peninsula" {
			t.Errorf("%s: From %+v", to, got.From)
		}
		if got.MessageID != want.ID {
			t.Errorf("%s: Message-ID %q, want %q", to, got.MessageID, want.ID)
		}
		if strings.TrimSpace(got.Text) == "" || strings.TrimSpace(got.HTML) == "" {
			t.Errorf("%s: text part %d bytes, HTML part %d bytes: both must be there", to, len(got.Text), len(got.HTML))
		}
		p := parseRaw(t, mp.Raw(t, got.ID))
		if strings.Join(p.types, " ") != "text/plain text/html" {
			t.Errorf("%s: parts %v", to, p.types)
		}
	}
	if got, want := byTo["reader1@example.org"].Subject, "북한, 동해상으로 탄도미사일 발사"; got != want {
		t.Errorf("Korean subject arrives as %q, want %q", got, want)
	}
	for _, to := range []string{"reader1@example.org", "reader2@example.org"} {
		m := byTo[to]
		h := mp.Headers(t, m.ID)
		if got := h["List-Id"]; len(got) != 1 || got[0] != `"The Peninsula" <the-peninsula.keia.org>` {
			t.Errorf("%s: List-Id %q", to, got)
		}
		if got := h["List-Unsubscribe-Post"]; len(got) != 1 || got[0] != "List-Unsubscribe=One-Click" {
			t.Errorf("%s: List-Unsubscribe-Post %q", to, got)
		}
		if h["Auto-Submitted"][0] != "auto-generated" || h["Precedence"][0] != "list" {
			t.Errorf("%s: Auto-Submitted %q, Precedence %q", to, h["Auto-Submitted"], h["Precedence"])
		}
		lu := m.ListUnsubscribe
		if lu.Errors != "" || lu.HeaderPost != "List-Unsubscribe=One-Click" {
			t.Errorf("%s: Mailpit finds List-Unsubscribe wanting: %q (post %q)", to, lu.Errors, lu.HeaderPost)
		}
		var https, mailto bool
		for _, l := range lu.Links {
			https = https || strings.HasPrefix(l, testBase+"/mail/unsubscribe/")
			mailto = mailto || strings.HasPrefix(l, "mailto:updates@keia.org")
		}
		if !https || !mailto {
			t.Errorf("%s: List-Unsubscribe links %v, want an https one under %s and a mailto:", to, lu.Links, testBase)
		}
	}
	if h := mp.Headers(t, byTo["reader3@example.org"].ID); len(h["List-Unsubscribe"]) > 0 || len(h["List-Id"]) > 0 || len(h["Precedence"]) > 0 {
		t.Errorf("the confirmation carries list headers: %v", h)
	}
}

// TestSendRejectedAddress: a 5xx to RCPT TO fails that address alone; the
// session goes on with the next.
func TestSendRejectedAddress(t *testing.T) {
	mp := mailtest.StartMailpit(t, "--smtp-allowed-recipients", "^ok")
	c := testComposer(t, testBase)
	ss, err := NewSender(mustServer(t, mp.SMTPURL()), SenderOptions{}).Open(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	for _, to := range []string{"ok1@example.org", "gone@example.org", "ok2@example.org"} {
		err := ss.Send(t.Context(), instant(t, c, to))
		var se *SendError
		switch {
		case strings.HasPrefix(to, "ok") && err != nil:
			t.Errorf("%s: %v", to, err)
		case !strings.HasPrefix(to, "ok") && (!errors.Is(err, ErrRejected) || !errors.As(err, &se) || se.Code != 550 || se.Stage != "RCPT TO"):
			t.Errorf("%s: %v, want ErrRejected with 550 at RCPT TO", to, err)
		}
	}
	if got := len(mp.WaitCount(t, 2)); got != 2 || ss.Dials() != 1 {
		t.Errorf("Mailpit holds %d mails, session dialled %d times; want 2 and 1", got, ss.Dials())
	}
}

// TestSendTemporaryFailure: Mailpit answering 451 to RCPT TO is
// temporary; once it accepts again, the same session delivers.
func TestSendTemporaryFailure(t *testing.T) {
	mp := mailtest.StartMailpit(t, "--enable-chaos", "--chaos-triggers", "Recipient:451:100")
	c := testComposer(t, testBase)
	ss, err := NewSender(mustServer(t, mp.SMTPURL()), SenderOptions{}).Open(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	m := instant(t, c, "reader@example.org")
	err = ss.Send(t.Context(), m)
	var se *SendError
	if !errors.Is(err, ErrTemporary) || !errors.As(err, &se) || se.Code != 451 {
		t.Fatalf("Send while Mailpit answers 451: %v, want ErrTemporary 451", err)
	}
	mp.SetChaos(t, mailtest.ChaosTrigger{}, mailtest.ChaosTrigger{}, mailtest.ChaosTrigger{})
	if err := ss.Send(t.Context(), m); err != nil {
		t.Fatalf("Send after Mailpit recovered: %v", err)
	}
	mp.WaitCount(t, 1)
}

// TestSendAuth: a password Mailpit accepts; a wrong one is ErrServer and
// the password appears in no error.
func TestSendAuth(t *testing.T) {
	dir := t.TempDir()
	auth := filepath.Join(dir, "smtp.passwd")
	if err := os.WriteFile(auth, []byte("sender:s3cret-pass\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mp := mailtest.StartMailpit(t, "--smtp-auth-file", auth, "--smtp-auth-allow-insecure")
	c := testComposer(t, testBase)
	good := mustServer(t, "smtp://sender:s3cret-pass@"+mp.SMTPAddr)
	if errs := NewSender(good, SenderOptions{}).Send(t.Context(), instant(t, c, "reader@example.org")); errs[0] != nil {
		t.Fatalf("with the right password: %v", errs[0])
	}
	mp.WaitCount(t, 1)

	bad := mustServer(t, "smtp://sender:wrong-pass@"+mp.SMTPAddr)
	_, err := NewSender(bad, SenderOptions{}).Open(t.Context())
	var se *SendError
	if !errors.Is(err, ErrServer) || !errors.As(err, &se) || se.Code != 535 {
		t.Fatalf("with a wrong password: %v, want ErrServer 535", err)
	}
	if strings.Contains(err.Error(), "wrong-pass") || strings.Contains(fmt.Sprintf("%+v %#v", err, err), "wrong-pass") {
		t.Errorf("the error shows the password: %v", err)
	}
	// No password at all where the server asks for one.
	none := mustServer(t, mp.SMTPURL())
	errs := NewSender(none, SenderOptions{}).Send(t.Context(), instant(t, c, "reader@example.org"))
	if !errors.Is(errs[0], ErrServer) {
		t.Errorf("without a password to a server that wants one: %v, want ErrServer", errs[0])
	}
}

func TestSendConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, err = NewSender(mustServer(t, "smtp://"+addr), SenderOptions{}).Open(t.Context())
	var se *SendError
	if !errors.Is(err, ErrTemporary) || !errors.As(err, &se) || se.Stage != "connect" {
		t.Errorf("connection refused: %v, want ErrTemporary at connect", err)
	}
}

// TestSendTLS: STARTTLS and implicit TLS (smtps://) against Mailpit with
// a certificate of the test's own; a certificate the client does not
// trust is ErrServer, not worth retrying.
func TestSendTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	c := testComposer(t, testBase)
	for _, tc := range []struct {
		name, scheme string
		args         []string
	}{
		{"STARTTLS", "smtp", []string{"--smtp-require-starttls"}},
		{"implicit TLS", "smtps", []string{"--smtp-require-tls"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mp := mailtest.StartMailpit(t, append([]string{"--smtp-tls-cert", certFile, "--smtp-tls-key", keyFile,
				"--smtp-auth-accept-any"}, tc.args...)...)
			srv := mustServer(t, tc.scheme+"://user:pass@"+mp.SMTPAddr)
			s := NewSender(srv, SenderOptions{TLS: &tls.Config{RootCAs: pool}})
			if errs := s.Send(t.Context(), instant(t, c, "reader@example.org")); errs[0] != nil {
				t.Fatalf("%s with a trusted certificate: %v", tc.name, errs[0])
			}
			mp.WaitCount(t, 1)
			_, err := NewSender(srv, SenderOptions{}).Open(t.Context())
			if !errors.Is(err, ErrServer) {
				t.Errorf("%s with an untrusted certificate: %v, want ErrServer", tc.name, err)
			}
		})
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns
// their files and a pool that trusts it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestSendClassifiesReplies drives a scripted server through every reply
// Mailpit cannot be told to give.
func TestSendClassifiesReplies(t *testing.T) {
	c := testComposer(t, testBase)
	for _, tc := range []struct {
		name  string
		reply func(cmd, arg string) string
		kind  error
		stage string
		code  int
	}{
		{"5xx after DATA", func(cmd, _ string) string { return map[string]string{"DATA": "554 5.6.0 message refused"}[cmd] }, ErrRejected, "DATA", 554},
		{"4xx after DATA", func(cmd, _ string) string { return map[string]string{"DATA": "452 4.3.1 out of space"}[cmd] }, ErrTemporary, "DATA", 452},
		{"5xx to RCPT TO", func(cmd, _ string) string { return map[string]string{"RCPT": "550 5.1.1 no such user"}[cmd] }, ErrRejected, "RCPT TO", 550},
		{"mailbox full, 4xx to RCPT TO", func(cmd, _ string) string { return map[string]string{"RCPT": "450 4.2.2 mailbox full"}[cmd] }, ErrTemporary, "RCPT TO", 450},
		{"5xx to MAIL FROM", func(cmd, _ string) string { return map[string]string{"MAIL": "553 5.7.1 sender not allowed"}[cmd] }, ErrServer, "MAIL FROM", 553},
		{"530 to RCPT TO", func(cmd, _ string) string { return map[string]string{"RCPT": "530 5.7.0 authentication required"}[cmd] }, ErrServer, "RCPT TO", 530},
		{"421 to MAIL FROM", func(cmd, _ string) string { return map[string]string{"MAIL": "421 4.3.2 shutting down"}[cmd] }, ErrTemporary, "MAIL FROM", 421},
		{"554 greeting", func(cmd, _ string) string { return map[string]string{"CONNECT": "554 5.7.1 go away"}[cmd] }, ErrServer, "connect", 554},
		{"dropped after DATA", func(cmd, _ string) string { return map[string]string{"DATA": mailtest.Drop}[cmd] }, ErrTemporary, "DATA", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stub := mailtest.StartStub(t, tc.reply)
			errs := NewSender(mustServer(t, stub.SMTPURL()), SenderOptions{Timeout: 10 * time.Second}).Send(t.Context(), instant(t, c, "reader@example.org"))
			var se *SendError
			if !errors.Is(errs[0], tc.kind) || !errors.As(errs[0], &se) || se.Stage != tc.stage || se.Code != tc.code {
				t.Errorf("%v (stage %q), want %v at %s with code %d", errs[0], stageOf(errs[0]), tc.kind, tc.stage, tc.code)
			}
			if len(stub.Messages()) != 0 {
				t.Errorf("the stub took %d messages", len(stub.Messages()))
			}
		})
	}
}

func stageOf(err error) string {
	var se *SendError
	if errors.As(err, &se) {
		return se.Stage
	}
	return ""
}

// TestSessionReusesAndRedials: a batch goes over one connection; when the
// server drops it between mails, the next mail dials again, and nothing is
// lost or sent twice.
func TestSessionReusesAndRedials(t *testing.T) {
	c := testComposer(t, testBase)
	var mails atomic.Int32
	stub := mailtest.StartStub(t, func(cmd, arg string) string {
		// Drop the connection at the 6th MAIL FROM, as a server closing
		// an idle or overused connection does.
		if cmd == "MAIL" && mails.Add(1) == 6 {
			return mailtest.Drop
		}
		return ""
	})
	ss, err := NewSender(mustServer(t, stub.SMTPURL()), SenderOptions{}).Open(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := ss.Send(t.Context(), instant(t, c, fmt.Sprintf("reader%d@example.org", i))); err != nil {
			t.Fatalf("mail %d: %v", i, err)
		}
	}
	if err := ss.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	msgs := stub.Messages()
	seen := map[string]int{}
	for _, m := range msgs {
		seen[m.To[0]]++
	}
	if len(msgs) != 10 || len(seen) != 10 {
		t.Errorf("the stub took %d mails for %d addresses, want 10 for 10", len(msgs), len(seen))
	}
	if ss.Dials() != 2 || stub.Dials() != 2 {
		t.Errorf("session dialled %d times, stub saw %d connections; want 2 (one batch, one drop)", ss.Dials(), stub.Dials())
	}
}

// TestSendHonoursContext: a server that never answers DATA does not hold
// Send past its context, however long the timeout.
func TestSendHonoursContext(t *testing.T) {
	stub := silentStub(t, "DATA")
	c := testComposer(t, testBase)
	s := NewSender(mustServer(t, stub.SMTPURL()), SenderOptions{Timeout: 10 * time.Minute})
	ss, err := s.Open(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	err = ss.Send(ctx, instant(t, c, "reader@example.org"))
	if !errors.Is(err, ErrTemporary) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send past its context: %v, want ErrTemporary wrapping context.DeadlineExceeded", err)
	}
	if err := ss.Send(ctx, instant(t, c, "reader@example.org")); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Send on an ended context: %v", err)
	}
}

// BenchmarkSendMailpit sends batches of 1,000 digests (five items each,
// to 1,000 addresses) to Mailpit, over one session or spread over four
// sessions at once, and reports mails per second.
func BenchmarkSendMailpit(b *testing.B) {
	mp := mailtest.StartMailpit(b)
	c := testComposer(b, testBase)
	s := NewSender(mustServer(b, mp.SMTPURL()), SenderOptions{})
	items := append(testItems(), testItems()...)
	items = append(items, testItems()...)[:5]
	for i := range items {
		items[i].Key = fmt.Sprint(i)
	}
	msgs := digests(b, c, 1000, items)
	b.ReportMetric(float64(len(msgs[0].HTML)+len(msgs[0].Text))/1024, "KB/mail")
	for _, sessions := range []int{1, 4} {
		b.Run(fmt.Sprintf("sessions=%d", sessions), func(b *testing.B) {
			sent := 0
			start := time.Now()
			for b.Loop() {
				var wg sync.WaitGroup
				errs := make(chan error, sessions)
				for w := range sessions {
					wg.Add(1)
					go func() {
						defer wg.Done()
						ss, err := s.Open(b.Context())
						if err != nil {
							errs <- err
							return
						}
						defer ss.Close()
						for i := w; i < len(msgs); i += sessions {
							if err := ss.Send(b.Context(), msgs[i]); err != nil {
								errs <- err
								return
							}
						}
					}()
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					b.Fatal(err)
				}
				sent += len(msgs)
			}
			b.ReportMetric(float64(sent)/time.Since(start).Seconds(), "mails/s")
		})
	}
}

// BenchmarkSendStub is BenchmarkSendMailpit against the stub, which
// stores nothing: the sender's own cost.
func BenchmarkSendStub(b *testing.B) {
	stub := mailtest.StartStub(b, nil)
	c := testComposer(b, testBase)
	s := NewSender(mustServer(b, stub.SMTPURL()), SenderOptions{})
	msgs := digests(b, c, 1000, testItems())
	var sent int
	start := time.Now()
	for b.Loop() {
		ss, err := s.Open(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		for _, m := range msgs {
			if err := ss.Send(b.Context(), m); err != nil {
				b.Fatal(err)
			}
			sent++
		}
		ss.Close()
	}
	b.ReportMetric(float64(sent)/time.Since(start).Seconds(), "mails/s")
}

// BenchmarkCompose measures composing one five-item digest.
func BenchmarkCompose(b *testing.B) {
	c := testComposer(b, testBase)
	items := testItems()
	for b.Loop() {
		if _, err := c.Mail(testList, "reader@example.org", Edition{Mode: feed.DigestDaily, Due: t0, Items: items}, t0); err != nil {
			b.Fatal(err)
		}
	}
}

// TestOpenHonoursContext: a server that accepts the connection but never
// greets does not hold Open past its context.
func TestOpenHonoursContext(t *testing.T) {
	stub := silentStub(t, "CONNECT")
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err := NewSender(mustServer(t, stub.SMTPURL()), SenderOptions{Timeout: 10 * time.Minute}).Open(ctx)
	if !errors.Is(err, ErrTemporary) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Open past its context: %v, want ErrTemporary wrapping context.DeadlineExceeded", err)
	}
}

// silentStub is a stub that never answers cmd, until the test ends.
func silentStub(t *testing.T, cmd string) *mailtest.Stub {
	release := make(chan struct{})
	stub := mailtest.StartStub(t, func(c, _ string) string {
		if c == cmd {
			<-release
		}
		return ""
	})
	t.Cleanup(func() { close(release) }) // runs before the stub's own cleanup
	return stub
}

// digests composes a daily digest of items for each of n addresses.
func digests(b *testing.B, c *Composer, n int, items []feed.Item) []*Message {
	msgs := make([]*Message, n)
	for i := range msgs {
		m, err := c.Mail(testList, fmt.Sprintf("reader%04d@example.org", i), Edition{Mode: feed.DigestDaily, Due: t0, Items: items}, t0)
		if err != nil {
			b.Fatal(err)
		}
		msgs[i] = m
	}
	return msgs
}
