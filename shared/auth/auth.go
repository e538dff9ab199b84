// Package auth mints and checks Greenroom's bearer tokens: signed
// (HMAC-SHA256 JWTs), expiring, carrying a role and a subject. Join tokens
// are narrower still: scoped to one session, one user and one device.
package auth

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/greenroom-live/greenroom/shared/domain"
)

// Role says what a token's subject is.
type Role string

const (
	// RoleUser is a display-name identity: joins and registers.
	RoleUser Role = "user"
	// RoleOrganizer runs events.
	RoleOrganizer Role = "organizer"
	// RoleEmployer books sessions in one event and speaks in them.
	RoleEmployer Role = "employer"
	// RoleJoin is a short-lived ticket to open one session's WebSocket
	// (SessionID and Device), or one group's live chat socket (Group).
	RoleJoin Role = "join"
	// RoleInvite is the token of an invite link: it names a group to join
	// (Group) or a scheduled session whose co-speaker its bearer becomes
	// (SessionID). It is no identity: a signed-in user redeems it.
	RoleInvite Role = "invite"
)

const issuer = "greenroom"

// Lifetimes of the tokens. Join tokens are short: the client opens the
// socket right after asking for one.
const (
	DefaultTTL     = 24 * time.Hour
	DefaultJoinTTL = 2 * time.Minute
	// InviteTTL is how long an invite link works.
	InviteTTL = 7 * 24 * time.Hour
	// MinKeyLen is the shortest signing key accepted (256 bits).
	MinKeyLen = 32
)

var (
	// ErrKeyTooShort is returned by NewIssuer for a key under MinKeyLen bytes.
	ErrKeyTooShort = errors.New("auth: signing key shorter than 32 bytes")
	// ErrNoClock is returned by NewIssuer without a clock.
	ErrNoClock = errors.New("auth: no clock")
	// ErrInvalidToken is returned by Verify for a token that is malformed,
	// tampered with, of an unknown role, or expired.
	ErrInvalidToken = errors.New("auth: invalid token")
)

// Claims are what a token says about its bearer.
type Claims struct {
	Role Role `json:"role"`
	// Name is the display name of a user, organizer or employer.
	Name string `json:"name,omitempty"`
	// EventID scopes an employer token to its event.
	EventID domain.EventID `json:"evt,omitempty"`
	// SessionID and Device scope a join token.
	SessionID domain.SessionID `json:"sid,omitempty"`
	Device    domain.Device    `json:"dev,omitempty"`
	// Group scopes an invite token, or a join token to a group's live
	// chat, to a group.
	Group domain.GroupID `json:"grp,omitempty"`
	jwt.RegisteredClaims
}

// Subject returns the token's subject: a user, organizer or employer id.
func (c Claims) Subject() string { return c.RegisteredClaims.Subject }

// UserID returns the subject as the user id it acts as inside sessions:
// employers take part in their sessions under their employer id.
func (c Claims) UserID() domain.UserID { return domain.UserID(c.RegisteredClaims.Subject) }

// Config configures an Issuer.
type Config struct {
	// Key signs and checks tokens; at least MinKeyLen bytes.
	Key []byte
	// Clock tells the time for issuing and expiry.
	Clock domain.Clock
	// TTL is the lifetime of user, organizer and employer tokens
	// (DefaultTTL when zero); JoinTTL that of join tokens (DefaultJoinTTL).
	TTL     time.Duration
	JoinTTL time.Duration
}

// Issuer mints and verifies tokens. It is safe for concurrent use.
type Issuer struct {
	key     []byte
	clock   domain.Clock
	ttl     time.Duration
	joinTTL time.Duration
	parser  *jwt.Parser
}

// NewIssuer returns an Issuer for cfg.
func NewIssuer(cfg Config) (*Issuer, error) {
	if len(cfg.Key) < MinKeyLen {
		return nil, ErrKeyTooShort
	}
	if cfg.Clock == nil {
		return nil, ErrNoClock
	}
	i := &Issuer{key: cfg.Key, clock: cfg.Clock, ttl: cfg.TTL, joinTTL: cfg.JoinTTL}
	if i.ttl <= 0 {
		i.ttl = DefaultTTL
	}
	if i.joinTTL <= 0 {
		i.joinTTL = DefaultJoinTTL
	}
	i.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(issuer),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(cfg.Clock.Now),
	)
	return i, nil
}

// Mint signs a token for subject with the claims c; the issuer sets the
// issue and expiry times.
func (i *Issuer) Mint(subject string, c Claims) (string, error) {
	now := i.clock.Now()
	ttl := i.ttl
	switch c.Role {
	case RoleJoin:
		ttl = i.joinTTL
	case RoleInvite:
		ttl = InviteTTL
	}
	c.RegisteredClaims = jwt.RegisteredClaims{
		Issuer:    issuer,
		Subject:   subject,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(i.key)
	if err != nil {
		return "", fmt.Errorf("auth: sign: %w", err)
	}
	return s, nil
}

// Verify checks a token's signature, issuer, expiry and role, and returns
// its claims, or ErrInvalidToken.
func (i *Issuer) Verify(token string) (Claims, error) {
	var c Claims
	_, err := i.parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return i.key, nil })
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	switch c.Role {
	case RoleUser, RoleOrganizer, RoleEmployer:
	case RoleJoin:
		session := c.SessionID != "" && c.Device != "" && c.Group == ""
		group := c.Group != "" && c.SessionID == "" && c.Device == ""
		if !session && !group {
			return Claims{}, fmt.Errorf("%w: join token without one scope", ErrInvalidToken)
		}
	case RoleInvite:
		if (c.SessionID == "") == (c.Group == "") {
			return Claims{}, fmt.Errorf("%w: invite token without one scope", ErrInvalidToken)
		}
	default:
		return Claims{}, fmt.Errorf("%w: unknown role %q", ErrInvalidToken, c.Role)
	}
	if c.RegisteredClaims.Subject == "" {
		return Claims{}, fmt.Errorf("%w: no subject", ErrInvalidToken)
	}
	return c, nil
}

// KeysEqual compares two secrets in constant time.
func KeysEqual(a, b string) bool {
	return len(a) > 0 && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
