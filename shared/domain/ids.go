package domain

import (
	"crypto/rand"
)

// Distinct id types keep a session id from being passed where a user id
// is expected.
type (
	UserID      string
	OrganizerID string
	EmployerID  string
	EventID     string
	SessionID   string
	GroupID     string
)

// idAlphabet avoids letters that read alike (0/o, 1/l) so that a session
// id can be read aloud or typed from a phone screen.
const idAlphabet = "abcdefghijkmnpqrstuvwxyz23456789"

// NewID returns a random identifier of n characters from idAlphabet
// (5 bits each; 16 characters carry 80 bits).
func NewID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+).
	for i := range b {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return string(b)
}
