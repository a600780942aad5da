package mail

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/kpolicy/aggregator/internal/feed"
)

// Purpose is what a link in a mail does; a token made for one purpose is
// refused for any other.
type Purpose byte

// The purposes of links.
const (
	Confirm     Purpose = 'c' // confirms a pending subscription (double opt-in)
	Unsubscribe Purpose = 'u' // leaves the list, one-click or by the page's button
	Manage      Purpose = 'm' // the page to change the digest or leave
)

// String is the purpose's name, also the path segment of its links.
func (p Purpose) String() string {
	switch p {
	case Confirm:
		return "confirm"
	case Unsubscribe:
		return "unsubscribe"
	case Manage:
		return "manage"
	}
	return fmt.Sprintf("Purpose(%d)", byte(p))
}

// ConfirmTTL is how long a confirmation link works: unconfirmed sign-ups
// expire after it. Unsubscribe and manage links do not expire (a reader
// may leave from a mail years old).
const ConfirmTTL = 7 * 24 * time.Hour

// SecretSize is the length of the secret NewSecret makes, and the least
// NewTokens accepts.
const SecretSize = 32

// Errors of Tokens.Open. Both are *feed.Error with code feed.EINVALID and
// a message fit for the page the link opens.
var (
	ErrInvalidLink = feed.Errorf(feed.EINVALID, "this link is not valid: it may have been cut short; copy the whole link from the mail")
	ErrExpiredLink = feed.Errorf(feed.EINVALID, "this confirmation link has expired; sign up again to get a new one")
)

// NewSecret returns a new random secret for NewTokens. It is made once and
// kept (by the store) for as long as links sent with it must work.
func NewSecret() ([]byte, error) {
	b := make([]byte, SecretSize)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("mail secret: %w", err)
	}
	return b, nil
}

// Tokens makes and opens the tokens of mail links. A token is the
// purpose, the channel, the address and an expiry sealed with AES-256-GCM
// under a key derived from the secret: it cannot be guessed or forged, it
// is checked without any lookup, and it does not show the address to
// whoever sees the URL (proxy logs, the browser's history). Tokens are
// URL-safe base64, at most about 480 characters for the longest address.
// A Tokens is safe for concurrent use.
type Tokens struct {
	aead cipher.AEAD
}

const (
	tokenVersion = 1
	// maxToken bounds the token Open decodes: the longest real one is
	// under 500 characters.
	maxToken = 1024
)

// NewTokens returns the Tokens of secret, which must be at least
// SecretSize bytes.
func NewTokens(secret []byte) (*Tokens, error) {
	if len(secret) < SecretSize {
		return nil, fmt.Errorf("mail tokens: the secret must be at least %d bytes (got %d)", SecretSize, len(secret))
	}
	key, err := hkdf.Key(sha256.New, secret, nil, "aggregator mail links v1", 32)
	if err != nil {
		return nil, fmt.Errorf("mail tokens: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("mail tokens: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("mail tokens: %w", err)
	}
	return &Tokens{aead: aead}, nil
}

// Claims is what a token says.
type Claims struct {
	Purpose Purpose
	Channel string
	Address string
	// Expires is when a Confirm token stops working; zero for the others.
	Expires time.Time
}

// Make returns a token for p, channel and address. A Confirm token
// expires ConfirmTTL after now; the others never do. Each call gives a
// different token for the same claims.
func (t *Tokens) Make(p Purpose, channel, address string, now time.Time) string {
	var exp int64
	if p == Confirm {
		exp = now.Add(ConfirmTTL).Unix()
	}
	plain := make([]byte, 0, 10+len(channel)+len(address))
	plain = append(plain, byte(p))
	plain = binary.BigEndian.AppendUint64(plain, uint64(exp))
	// Channel ids are at most 64 bytes (config); the cut only keeps
	// the length byte honest.
	plain = append(plain, byte(min(len(channel), 255)))
	plain = append(plain, channel[:min(len(channel), 255)]...)
	plain = append(plain, address...)

	out := make([]byte, 1+t.aead.NonceSize(), 1+t.aead.NonceSize()+len(plain)+t.aead.Overhead())
	out[0] = tokenVersion
	nonce := out[1:]
	_, _ = rand.Read(nonce) // crypto/rand.Read never fails
	out = t.aead.Seal(out, nonce, plain, out[:1])
	return base64.RawURLEncoding.EncodeToString(out)
}

// Open checks token and returns its claims. It returns ErrInvalidLink for
// anything that is not a token made by these Tokens for purpose p, and
// ErrExpiredLink for a Confirm token past its expiry at now.
func (t *Tokens) Open(token string, p Purpose, now time.Time) (Claims, error) {
	if len(token) > maxToken {
		return Claims{}, ErrInvalidLink
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	ns := t.aead.NonceSize()
	if err != nil || len(raw) < 1+ns+t.aead.Overhead() || raw[0] != tokenVersion {
		return Claims{}, ErrInvalidLink
	}
	plain, err := t.aead.Open(nil, raw[1:1+ns], raw[1+ns:], raw[:1])
	if err != nil || len(plain) < 10 {
		return Claims{}, ErrInvalidLink
	}
	c := Claims{Purpose: Purpose(plain[0])}
	exp := int64(binary.BigEndian.Uint64(plain[1:9]))
	n := int(plain[9])
	if c.Purpose != p || len(plain) < 10+n {
		return Claims{}, ErrInvalidLink
	}
	c.Channel, c.Address = string(plain[10:10+n]), string(plain[10+n:])
	if exp != 0 {
		c.Expires = time.Unix(exp, 0)
		if !now.Before(c.Expires) {
			return c, ErrExpiredLink
		}
	}
	return c, nil
}
