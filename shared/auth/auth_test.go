package auth

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
)

var testKey = []byte(strings.Repeat("k", MinKeyLen))

func newIssuer(t *testing.T) (*Issuer, *domain.ManualClock) {
	t.Helper()
	clock := domain.NewManualClock(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	i, err := NewIssuer(Config{Key: testKey, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	return i, clock
}

func TestNewIssuerRefusesWeakConfig(t *testing.T) {
	if _, err := NewIssuer(Config{Key: []byte("short"), Clock: domain.SystemClock{}}); !errors.Is(err, ErrKeyTooShort) {
		t.Fatalf("short key: got %v", err)
	}
	if _, err := NewIssuer(Config{Key: testKey}); !errors.Is(err, ErrNoClock) {
		t.Fatalf("no clock: got %v", err)
	}
}

func TestRoundTrip(t *testing.T) {
	i, _ := newIssuer(t)
	tok, err := i.Mint("emp1", Claims{Role: RoleEmployer, Name: "Acme", EventID: "ev1"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := i.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if c.Role != RoleEmployer || c.Subject() != "emp1" || c.EventID != "ev1" || c.Name != "Acme" {
		t.Fatalf("claims: %+v", c)
	}
}

// TestGroupJoinToken: a join token scoped to a group (the group's live
// chat socket) verifies with its group and no session.
func TestGroupJoinToken(t *testing.T) {
	i, _ := newIssuer(t)
	tok, err := i.Mint("u1", Claims{Role: RoleJoin, Name: "Ryan", Group: "g1"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := i.Verify(tok)
	if err != nil || c.Role != RoleJoin || c.Group != "g1" || c.SessionID != "" || c.UserID() != "u1" {
		t.Fatalf("Verify = %+v, %v", c, err)
	}
}

func TestVerifyRefuses(t *testing.T) {
	i, clock := newIssuer(t)
	good, _ := i.Mint("u1", Claims{Role: RoleUser})
	join, _ := i.Mint("u1", Claims{Role: RoleJoin, SessionID: "s1", Device: domain.DeviceWeb})
	other, _ := NewIssuer(Config{Key: []byte(strings.Repeat("x", MinKeyLen)), Clock: clock})
	foreign, _ := other.Mint("u1", Claims{Role: RoleUser})
	unscoped, _ := i.Mint("u1", Claims{Role: RoleJoin})
	twoScopes, _ := i.Mint("u1", Claims{Role: RoleJoin, SessionID: "s1", Device: domain.DeviceWeb, Group: "g1"})
	groupWithDevice, _ := i.Mint("u1", Claims{Role: RoleJoin, Device: domain.DeviceWeb, Group: "g1"})
	unknownRole, _ := i.Mint("u1", Claims{Role: "admin"})
	noSubject, _ := i.Mint("", Claims{Role: RoleUser})

	tampered := []byte(good)
	tampered[len(tampered)-3] ^= 1

	for name, tok := range map[string]string{
		"empty":        "",
		"garbage":      "not.a.token",
		"tampered":     string(tampered),
		"foreign key":  foreign,
		"unscoped":     unscoped,
		"two scopes":   twoScopes,
		"group+device": groupWithDevice,
		"unknown role": unknownRole,
		"no subject":   noSubject,
		"alg none":     "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJyb2xlIjoidXNlciIsInN1YiI6InUxIn0.",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := i.Verify(tok); !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("got %v, want ErrInvalidToken", err)
			}
		})
	}

	t.Run("expiry follows the clock", func(t *testing.T) {
		if _, err := i.Verify(join); err != nil {
			t.Fatalf("fresh join token: %v", err)
		}
		clock.Advance(DefaultJoinTTL + time.Second)
		if _, err := i.Verify(join); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("expired join token: got %v", err)
		}
		if _, err := i.Verify(good); err != nil {
			t.Fatalf("user token outlives the join token: %v", err)
		}
		clock.Advance(DefaultTTL)
		if _, err := i.Verify(good); !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("expired user token: got %v", err)
		}
	})
}

func TestKeysEqual(t *testing.T) {
	if !KeysEqual("abc", "abc") || KeysEqual("abc", "abd") || KeysEqual("", "") {
		t.Fatal("KeysEqual")
	}
}
