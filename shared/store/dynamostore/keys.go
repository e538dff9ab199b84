package dynamostore

import (
	"strings"
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
)

// The table's key layout, all of it in this file. The table has a string
// hash key PK and a string range key SK, one global secondary index GSI1
// (GSI1PK, GSI1SK; projection ALL) and the TTL attribute ttl.
//
//	item                 PK                 SK
//	user                 USER#<id>          META
//	organizer            ORG#<id>           META
//	event                EVENT#<id>         META                      (counter sessionsBooked)
//	employer             EVENT#<id>         EMPLOYER#<id>             (counter sessionsBooked)
//	slot counter         EVENT#<id>         SLOT#<start>              (counter booked)
//	event's session      EVENT#<id>         SESSION#<start>#<session> (points at the session)
//	session              SESSION#<id>       META                      (counter registered)
//	registration         SESSION#<id>       REG#<user>
//
// An event's sessions and slot counters live in the event's partition, so
// that ListEventSessions and SlotUsage are strongly consistent queries
// rather than reads of an eventually consistent index. <start> is a UTC
// time of fixed width, so the sort key orders sessions by start, then id.
// GSI1 is not used yet.
const (
	attrPK     = "PK"
	attrSK     = "SK"
	attrGSI1PK = "GSI1PK"
	attrGSI1SK = "GSI1SK"
	attrTTL    = "ttl"

	indexGSI1 = "GSI1"

	prefixUser      = "USER#"
	prefixOrganizer = "ORG#"
	prefixEvent     = "EVENT#"
	prefixEmployer  = "EMPLOYER#"
	prefixSlot      = "SLOT#"
	prefixSession   = "SESSION#"
	prefixReg       = "REG#"
	skMeta          = "META"

	// keyTimeLayout is fixed width (nanoseconds always written), so that
	// the lexical order of keys is the order of time.
	keyTimeLayout = "2006-01-02T15:04:05.000000000Z"
)

// key is the primary key of one item.
type key struct {
	PK string `dynamodbav:"PK"`
	SK string `dynamodbav:"SK"`
}

func userKey(id domain.UserID) key { return key{prefixUser + string(id), skMeta} }

func organizerKey(id domain.OrganizerID) key { return key{prefixOrganizer + string(id), skMeta} }

func eventPK(id domain.EventID) string { return prefixEvent + string(id) }

func eventKey(id domain.EventID) key { return key{eventPK(id), skMeta} }

func employerKey(event domain.EventID, id domain.EmployerID) key {
	return key{eventPK(event), prefixEmployer + string(id)}
}

func slotKey(event domain.EventID, start time.Time) key {
	return key{eventPK(event), prefixSlot + keyTime(start)}
}

// eventSessionKey is the item in the event's partition that lists one of
// its sessions.
func eventSessionKey(event domain.EventID, start time.Time, id domain.SessionID) key {
	return key{eventPK(event), prefixSession + keyTime(start) + "#" + string(id)}
}

func sessionPK(id domain.SessionID) string { return prefixSession + string(id) }

func sessionKey(id domain.SessionID) key { return key{sessionPK(id), skMeta} }

func registrationKey(session domain.SessionID, user domain.UserID) key {
	return key{sessionPK(session), prefixReg + string(user)}
}

// keyTime writes t in UTC at a fixed width.
func keyTime(t time.Time) string { return t.UTC().Format(keyTimeLayout) }

// slotStartOf parses the start of a slot counter's sort key.
func slotStartOf(sk string) (time.Time, bool) {
	rest, ok := strings.CutPrefix(sk, prefixSlot)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(keyTimeLayout, rest)
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}
