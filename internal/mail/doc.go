// Package mail owns the mailing lists' mail and the rules of a
// subscription's life: which addresses are accepted (ParseAddress), the
// signed links of confirmation, unsubscribe and manage pages (Tokens,
// LinkPath), how list and confirmation mail is composed (Composer), how it
// is sent over SMTP and what a failure means for the caller (Sender,
// ErrTemporary, ErrRejected, ErrServer), when the next digest is due
// (Next), and the in-memory rate limits of sign-ups (KeyLimit).
//
// It must not keep state beyond what its values hold: no store (the
// caller keeps subscribers, pending confirmations, the send log and the
// token secret), no HTTP server or handlers, no loops or goroutines of its
// own (a Session's context watcher is released before each call returns).
// Everything here is a pure function or a value the caller owns, so the
// routes and the sender loop that use it can be tested on their own.
//
// Headers, decided once for every list mail:
//
//   - List-Id (RFC 2919) names the channel: "Title <channel.domain>", the
//     domain being that of mail.from, which the institute controls.
//   - List-Unsubscribe (RFC 2369) gives the https unsubscribe link and a
//     mailto: of mail.from; List-Unsubscribe-Post (RFC 8058) is added only
//     when that link is https, as RFC 8058 requires.
//   - Auto-Submitted: auto-generated (RFC 3834 §5) on every mail, list and
//     confirmation: none is written by a person, and it keeps vacation
//     responders from answering mail.from.
//   - Precedence: list on list mail only. RFC 3834 calls the field
//     non-standard, but many auto-responders still read it and nothing
//     else, and it says what the mail is. The confirmation mail, which a
//     reader asked for and must see, does not carry it.
//   - Message-ID is derived from what the mail carries (list, address,
//     items), so the same mail sent twice after a crash has the same id
//     and a receiving system can tell it is a duplicate.
package mail
