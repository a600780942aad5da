package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/textproto"
	"strings"

	gomail "github.com/wneessen/go-mail"
)

// The kinds of send failure. Every error Sender and Session return wraps
// exactly one of them (errors.Is), and is a *SendError.
var (
	// ErrTemporary: the server could not be reached, the connection broke,
	// the context ended, or the server answered 4xx. Keep the mail queued
	// and retry with backoff; nothing counts against the address.
	ErrTemporary = errors.New("temporary failure")
	// ErrRejected: the server refused this address or this mail for good
	// (5xx to RCPT TO or DATA). It counts towards marking the address
	// bounced; other addresses are not affected.
	ErrRejected = errors.New("rejected for this address")
	// ErrServer: the server refuses us whatever the address (failed or
	// missing authentication, a TLS certificate that does not verify, our
	// From address refused): mail.smtp or mail.from needs fixing. Stop
	// sending, keep the queue, and tell staff.
	ErrServer = errors.New("refused by the server")
)

// SendError is a failure to send, classified.
type SendError struct {
	Kind  error  // ErrTemporary, ErrRejected or ErrServer
	Stage string // "connect", "MAIL FROM", "RCPT TO", "DATA" or "compose"
	Code  int    // the SMTP reply code, 0 when there was none
	Err   error  // the underlying error
}

func (e *SendError) Error() string {
	if e.Code != 0 {
		return fmt.Sprintf("smtp %s: %v: %d: %v", e.Stage, e.Kind, e.Code, e.Err)
	}
	return fmt.Sprintf("smtp %s: %v: %v", e.Stage, e.Kind, e.Err)
}

// Unwrap gives both the kind and the cause to errors.Is and errors.As.
func (e *SendError) Unwrap() []error { return []error{e.Kind, e.Err} }

// classifyDial classifies a failure to connect, greet, start TLS or
// authenticate.
func classifyDial(err error) *SendError {
	e := &SendError{Kind: ErrTemporary, Stage: "connect", Err: err}
	var tp *textproto.Error
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
	case errors.As(err, &tp):
		e.Code = tp.Code
		if tp.Code >= 500 {
			e.Kind = ErrServer // a 5xx greeting, EHLO or AUTH: we are not welcome
		}
	case tlsFailure(err), authFailure(err):
		e.Kind = ErrServer
	}
	return e
}

// tlsFailure reports whether err is a TLS certificate or handshake error:
// retrying will not make the certificate valid.
func tlsFailure(err error) bool {
	var (
		unknown  x509.UnknownAuthorityError
		invalid  x509.CertificateInvalidError
		hostname x509.HostnameError
		verify   *tls.CertificateVerificationError
		record   tls.RecordHeaderError
		alert    tls.AlertError
	)
	return errors.As(err, &unknown) || errors.As(err, &invalid) || errors.As(err, &hostname) ||
		errors.As(err, &verify) || errors.As(err, &record) || errors.As(err, &alert)
}

// authFailure reports whether err is go-mail refusing to authenticate:
// no mechanism in common, or a password it will not send in the clear.
func authFailure(err error) bool {
	for _, target := range []error{
		gomail.ErrPlainAuthNotSupported, gomail.ErrLoginAuthNotSupported, gomail.ErrCramMD5AuthNotSupported,
		gomail.ErrSCRAMSHA1AuthNotSupported, gomail.ErrSCRAMSHA256AuthNotSupported,
		gomail.ErrNoSupportedAuthDiscovered, gomail.ErrXOauth2AuthNotSupported,
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	msg := err.Error()
	return strings.Contains(msg, "unencrypted connection") || strings.Contains(msg, "does not support SMTP AUTH")
}

// classifySend classifies go-mail's failure to send one message.
func classifySend(err error) *SendError {
	e := &SendError{Kind: ErrTemporary, Stage: "DATA", Err: err}
	var se *gomail.SendError
	if !errors.As(err, &se) {
		return e
	}
	switch se.Reason {
	case gomail.ErrSMTPMailFrom:
		e.Stage = "MAIL FROM"
	case gomail.ErrSMTPRcptTo:
		e.Stage = "RCPT TO"
	case gomail.ErrConnCheck, gomail.ErrSMTPReset:
		e.Stage = "connect"
	case gomail.ErrGetSender, gomail.ErrGetRcpts, gomail.ErrNoUnencoded:
		e.Stage, e.Kind = "compose", ErrRejected
		return e
	}
	e.Code = se.ErrorCode()
	switch {
	case e.Code == 0 || e.Code < 500:
		// No reply (the connection broke) or 4xx: try again later.
	case authCode(e.Code):
		e.Kind = ErrServer
	case e.Stage == "RCPT TO" || e.Stage == "DATA":
		e.Kind = ErrRejected
	default:
		e.Kind = ErrServer // 5xx to MAIL FROM: our sender address is refused
	}
	return e
}

// authCode reports whether a 5xx reply means "authenticate first" or
// "authentication failed" whatever the command (RFC 4954 §6): 530, 534,
// 535, 538.
func authCode(code int) bool {
	return code == 530 || code == 534 || code == 535 || code == 538
}
