// Package turncred mints TURN credentials in the REST scheme of
// draft-uberti-behave-turn-rest-00: the username is "expiry:userId" (expiry
// a decimal Unix time) and the password the base64 of HMAC-SHA1 of the
// username keyed with a secret the TURN server shares. The API mints them
// by its own clock, never the wall clock, so that the stack agrees with
// itself on when they expire; the TURN server checks them.
package turncred

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // The TURN REST scheme is defined with HMAC-SHA1.
	"encoding/base64"
	"strconv"
	"time"
)

// Mint returns the username and password that let user allocate relays
// until expiry.
func Mint(secret, user string, expiry time.Time) (username, password string) {
	username = strconv.FormatInt(expiry.Unix(), 10) + ":" + user
	return username, Password([]byte(secret), username)
}

// Password is the REST scheme's password for username under secret.
func Password(secret []byte, username string) string {
	mac := hmac.New(sha1.New, secret)
	mac.Write([]byte(username)) // A hash never fails to write.
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
