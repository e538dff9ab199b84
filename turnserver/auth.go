package turnserver

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/pion/turn/v4"

	"github.com/greenroom-live/greenroom/shared/turncred"
)

// maxUsernameLen bounds the USERNAME attribute (RFC 8489 section 14.3
// allows up to 509 bytes after SASLprep; anything longer is malformed).
const maxUsernameLen = 509

// CheckUsername parses a TURN REST username, "expiry:userId" as in
// draft-uberti-behave-turn-rest-00 (the form pion/turn's
// GenerateLongTermTURNRESTCredentials mints), and checks its expiry: it
// must be a decimal Unix time after now and at most maxLifetime after now.
// It returns the user id, or ErrCredentialMalformed, ErrCredentialExpired
// or ErrCredentialTooLong.
func CheckUsername(username string, now time.Time, maxLifetime time.Duration) (string, error) {
	if len(username) > maxUsernameLen {
		return "", ErrCredentialMalformed
	}
	stamp, user, ok := strings.Cut(username, ":")
	if !ok || user == "" || stamp == "" || len(stamp) > 19 {
		return "", ErrCredentialMalformed
	}
	for _, c := range stamp {
		if c < '0' || c > '9' {
			return "", ErrCredentialMalformed
		}
	}
	secs, err := strconv.ParseInt(stamp, 10, 64)
	if err != nil {
		return "", ErrCredentialMalformed
	}
	if secs <= now.Unix() {
		return "", ErrCredentialExpired
	}
	if secs-now.Unix() > int64(maxLifetime/time.Second) {
		return "", ErrCredentialTooLong
	}

	return user, nil
}

// userOf returns the user id of a REST username, or the whole username when
// it has no colon (such a username never passes authentication).
func userOf(username string) string {
	if _, user, ok := strings.Cut(username, ":"); ok {
		return user
	}

	return username
}

// authReason names the metric label of a refused credential.
func authReason(err error) string {
	switch {
	case errors.Is(err, ErrCredentialExpired):
		return reasonExpired
	case errors.Is(err, ErrCredentialTooLong):
		return reasonLifetime
	default:
		return reasonMalformed
	}
}

// authHandler is the pion/turn AuthHandler: it refuses malformed, expired
// and too long-lived usernames and usernames from another realm, and
// otherwise returns the long-term key (RFC 8489 section 9.2.2) of the REST
// password, against which pion checks the MESSAGE-INTEGRITY: a tampered
// username or a wrong password fails there and is counted by onAuth.
func (s *Server) authHandler(username, realm string, src net.Addr) ([]byte, bool) {
	if realm != s.cfg.Realm {
		s.refuse(reasonRealm, username, src, fmt.Errorf("turnserver: realm %q", realm))

		return nil, false
	}
	if _, err := CheckUsername(username, s.cfg.Now(), s.cfg.MaxLifetime); err != nil {
		s.refuse(authReason(err), username, src, err)

		return nil, false
	}

	return turn.GenerateAuthKey(username, realm, turncred.Password(s.secret, username)), true
}

// refuse counts and logs a credential refused before the integrity check.
func (s *Server) refuse(reason, username string, src net.Addr, err error) {
	s.metrics.authFailures.WithLabelValues(reason).Inc()
	s.log.Debug("turn credential refused", "reason", reason, "username", username, "src", src.String(), "err", err)
}
