package boltstore

import (
	"encoding/binary"
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
)

// The key layout of the database, in one place. Every item is a JSON
// value in one top-level bucket. Keys made of several ids are built by
// key, which prefixes each part with its length, so that the key of an
// event alone is a prefix of the keys of its employers and of nothing
// else, whatever bytes the ids hold.
//
//	bucket         key                        value
//	users          userID                     domain.User
//	organizers     organizerID                domain.Organizer
//	events         eventID                    domain.Event (SessionsBooked kept here)
//	employers      key(eventID, employerID)   domain.Employer (SessionsBooked kept here)
//	sessions       sessionID                  domain.Session (Registered kept here)
//	eventSessions  key(eventID, sessionID)    empty: the index behind ListEventSessions
//	slots          key(eventID, slotStart)    slotCount, slotStart in UTC RFC 3339
//	registrations  key(sessionID, userID)     domain.Registration
var (
	bucketUsers         = []byte("users")
	bucketOrganizers    = []byte("organizers")
	bucketEvents        = []byte("events")
	bucketEmployers     = []byte("employers")
	bucketSessions      = []byte("sessions")
	bucketEventSessions = []byte("eventSessions")
	bucketSlots         = []byte("slots")
	bucketRegistrations = []byte("registrations")
)

// buckets lists every bucket; Open creates those that are missing.
func buckets() [][]byte {
	return [][]byte{
		bucketUsers, bucketOrganizers, bucketEvents, bucketEmployers,
		bucketSessions, bucketEventSessions, bucketSlots, bucketRegistrations,
	}
}

// slotCount is the value of a slot: its start and how many sessions are
// booked in it.
type slotCount struct {
	Start    time.Time `json:"start"`
	Sessions int       `json:"sessions"`
}

// key joins parts into one key, each part prefixed by its length as a
// uvarint. The encoding is prefix-free: key(a) is a prefix of key(a, b)
// for every b and of no key that starts with another part.
func key(parts ...string) []byte {
	n := 0
	for _, p := range parts {
		n += binary.MaxVarintLen64 + len(p)
	}
	out := make([]byte, 0, n)
	for _, p := range parts {
		out = binary.AppendUvarint(out, uint64(len(p)))
		out = append(out, p...)
	}
	return out
}

func employerKey(event domain.EventID, id domain.EmployerID) []byte {
	return key(string(event), string(id))
}

func eventSessionKey(event domain.EventID, id domain.SessionID) []byte {
	return key(string(event), string(id))
}

// lastPart returns the last part of a key made by key with two parts.
func lastPart(k []byte) (string, bool) {
	n, w := binary.Uvarint(k)
	if w <= 0 || uint64(len(k)-w) < n {
		return "", false
	}
	rest := k[w+int(n):]
	m, w := binary.Uvarint(rest)
	if w <= 0 || uint64(len(rest)-w) != m {
		return "", false
	}
	return string(rest[w:]), true
}

// slotKey keys a slot by its start as an instant: the same slot written
// in two time zones is one slot.
func slotKey(event domain.EventID, start time.Time) []byte {
	return key(string(event), start.UTC().Format(time.RFC3339Nano))
}

func registrationKey(session domain.SessionID, user domain.UserID) []byte {
	return key(string(session), string(user))
}
