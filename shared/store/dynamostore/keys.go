package dynamostore

import (
	"strconv"
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
//	chat message         SESSION#<id>       CHAT#<room>#<at>#<message>  (ttl)
//	connection           CONN#<id>          META                      (ttl)
//	rate counter         RATE#<key>#<unix>  META                      (counter n, ttl)
//	SFU worker           WORKER#<id>        META                      (ttl)
//
// An event's sessions and slot counters live in the event's partition, so
// that ListEventSessions and SlotUsage are strongly consistent queries
// rather than reads of an eventually consistent index. <start> is a UTC
// time of fixed width, so the sort key orders sessions by start, then id.
// A chat message's <room> is "main" or the breakout room's index, and
// <at> a fixed-width time, so one room's messages are one range of the
// session's partition, in time order. A rate counter's <unix> is the
// start of its window in Unix seconds; it is last so that any <key>
// works.
//
// GSI1 (projection ALL) is sparse: only items that carry GSI1PK are in
// it: the two time-ordered lists the scheduler walks, and the registry of
// SFU workers.
//
//	list                 GSI1PK             GSI1SK
//	sessions due         DUE                <due>#<session>    (Session.NextDue; absent when zero)
//	connections          CONN               <stale>#<conn>     (store.Connection.Stale)
//	SFU workers          WORKER             <id>
//
// Each list is one index partition, which holds up to about 1,000 writes
// a second: ample for one event's sessions and connections. Should it
// become hot, the partition can be sharded (DUE#0 … DUE#n-1 by a hash of
// the id) and the readers merge the shards by GSI1SK. Reads of a global
// secondary index are eventually consistent: a session or connection may
// show up a moment late, or at its previous time. The scheduler that
// reads them tolerates both: it applies Tick, which changes nothing
// (domain.ErrNoChange) for a session that is not due after all.
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
	prefixChat      = "CHAT#"
	prefixConn      = "CONN#"
	prefixRate      = "RATE#"
	prefixWorker    = "WORKER#"
	skMeta          = "META"

	// chatMainRoom names the main room in chat sort keys.
	chatMainRoom = "main"

	// gsiDue and gsiConn are the GSI1 partitions of the sessions due
	// and of the connections by stale time.
	gsiDue  = "DUE"
	gsiConn = "CONN"
	// gsiWorker is the GSI1 partition of the SFU workers, by id.
	gsiWorker = "WORKER"

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

// chatRoomPrefix is the prefix of the sort keys of one room's messages.
func chatRoomPrefix(room *int) string {
	if room == nil {
		return prefixChat + chatMainRoom + "#"
	}
	return prefixChat + strconv.Itoa(*room) + "#"
}

// chatKey orders a room's messages by time, then id, in the session's
// partition.
func chatKey(session domain.SessionID, room *int, at time.Time, id string) key {
	return key{sessionPK(session), chatRoomPrefix(room) + keyTime(at) + "#" + id}
}

func connectionKey(id domain.ConnectionID) key { return key{prefixConn + string(id), skMeta} }

// rateKey is the counter of k in the window that starts at window.
func rateKey(k string, window time.Time) key {
	return key{prefixRate + k + "#" + strconv.FormatInt(window.Unix(), 10), skMeta}
}

func workerKey(id string) key { return key{prefixWorker + id, skMeta} }

// workerIndexKey files a worker in the list of workers, by id.
func workerIndexKey(id string) indexKey { return indexKey{gsiWorker, id} }

// indexKey is the GSI1 key of an item in one of the time-ordered lists.
type indexKey struct {
	PK string
	SK string
}

// dueIndexKey files a session in the list of sessions due at due.
func dueIndexKey(due time.Time, id domain.SessionID) indexKey {
	return indexKey{gsiDue, keyTime(due) + "#" + string(id)}
}

// staleIndexKey files a connection in the list of connections by the
// time API Gateway closes them.
func staleIndexKey(stale time.Time, id domain.ConnectionID) indexKey {
	return indexKey{gsiConn, keyTime(stale) + "#" + string(id)}
}

// indexUpTo is the least GSI1SK greater than that of every item filed
// at or before t: "$" sorts right after the "#" that ends the time.
func indexUpTo(t time.Time) string { return keyTime(t) + "$" }
