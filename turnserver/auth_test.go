package turnserver_test

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/greenroom-live/greenroom/turnserver"
)

func TestCheckUsername(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	at := func(d time.Duration) string { return strconv.FormatInt(now.Add(d).Unix(), 10) }
	tests := []struct {
		name     string
		username string
		user     string
		err      error
	}{
		{"good", at(time.Hour) + ":u1", "u1", nil},
		{"user with colons", at(time.Hour) + ":a:b", "a:b", nil},
		{"at the maximum", at(24*time.Hour) + ":u1", "u1", nil},
		{"expired", at(-time.Second) + ":u1", "", turnserver.ErrCredentialExpired},
		{"expiring now", at(0) + ":u1", "", turnserver.ErrCredentialExpired},
		{"past the maximum", at(24*time.Hour+time.Second) + ":u1", "", turnserver.ErrCredentialTooLong},
		{"far future", "9223372036854775807:u1", "", turnserver.ErrCredentialTooLong},
		{"no colon", at(time.Hour), "", turnserver.ErrCredentialMalformed},
		{"no user", at(time.Hour) + ":", "", turnserver.ErrCredentialMalformed},
		{"no expiry", ":u1", "", turnserver.ErrCredentialMalformed},
		{"non-numeric", "soon:u1", "", turnserver.ErrCredentialMalformed},
		{"signed", "+" + at(time.Hour) + ":u1", "", turnserver.ErrCredentialMalformed},
		{"negative", "-1:u1", "", turnserver.ErrCredentialMalformed},
		{"overflow", "99999999999999999999:u1", "", turnserver.ErrCredentialMalformed},
		{"empty", "", "", turnserver.ErrCredentialMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user, err := turnserver.CheckUsername(tt.username, now, 24*time.Hour)
			if !errors.Is(err, tt.err) || user != tt.user {
				t.Errorf("CheckUsername(%q) = %q, %v; want %q, %v", tt.username, user, err, tt.user, tt.err)
			}
		})
	}
}
