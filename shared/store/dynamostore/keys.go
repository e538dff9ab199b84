package dynamostore

import (
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
)

// The table's key layout, all of it in this file. The table has a string
// hash key PK and a string range key SK, one global secondary index GSI1
// (GSI1PK, GSI1SK; projection KEYS_ONLY) and the TTL attribute ttl.
//
//	item                 PK                 SK
//	user                 USER#<id>          META
//	organizer            ORG#<id>           META
//	event                EVENT#<id>         META                      (counter sessionsBooked)
//	employer             EVENT#<id>         EMPLOYER#<id>             (counter sessionsBooked)
//	slot counter         EVENT#<id>         SLOT#<start>              (counter booked)
//	event's session      EVENT#<id>         SESSION#<start>#<session> (points at the session)
//	session              SESSION#<id>       META                      (status, version, counters registered,
//	                                                                   spots, seq, questions; the rest of
//	                                                                   the session's own state as one value)
//	member               SESSION#<id>       MEMBER#<user>             (version; ttl once removed)
//	question             SESSION#<id>       Q#<question>              (counter votes)
//	vote                 SESSION#<id>       VOTE#<user>#<question>    (one per member and question)
//	registration         SESSION#<id>       REG#<user>
//	chat message         SESSION#<id>       CHAT#<room>#<at>#<message>  (ttl)
//	connection           CONN#<id>          META                      (rate limiters; ttl)
//	SFU worker           WORKER#<id>        META                      (ttl)
//	group                GROUP#<id>         META                      (counter members)
//	group member         GROUP#<id>         MEMBER#<user>             (chat rate limiter)
//	group chat message   GROUP#<id>         CHAT#<at>#<message>       (ttl)
//	group connection     GROUP#<id>         CONN#<connection>         (a live chat socket; ttl)
//	user's group         USER#<user>        GROUP#<group>             (the list behind ListUserGroups)
//	user's session       USER#<user>        SESSION#<session>         (Active Sessions; ttl)
//
// An event's sessions and slot counters live in the event's partition, so
// that ListEventSessions and SlotUsage are strongly consistent queries
// rather than reads of an eventually consistent index. <start> is a UTC
// time of fixed width, so the sort key orders sessions by start, then id.
// A chat message's <room> is "main" or the breakout room's index, and
// <at> a fixed-width time, so one room's messages are one range of the
// session's partition, in time order.
//
// A session's live state is many small items in its partition, not one
// document: a member's message writes its member's item (about 250
// bytes, one WCU) and nothing else; only what members share is on the
// session item, changed by a conditional write: the stage's seats and the
// status under its version, the spots and questions by counters that
// grow only within their limit, the hand queue by an atomic counter. A
// member's votes are one range (VOTE#<user>#), read with the state.
//
// Why no key is hot at 10,000 concurrent sessions. A partition takes about
// 1,000 WCU and 3,000 RCU a second.
//
//   - SESSION#<id>: one session's items. Its writes are its own members'
//     messages, each member held to a few a second by the rate limits
//     (wsapi), so a 200-member session at its limits writes a few hundred
//     WCU a second, most of them to distinct member items; no item takes
//     every member's writes: the session item takes the joins, the hands
//     and the questions (one small counter each), never a mic toggle.
//   - The lists every session joins are spread over shards of GSI1 by a
//     hash of the session (DUE#0…DUE#15) or of the connection
//     (CONN#0…CONN#31). The due list is written when an item's due time
//     changes (connect, drop, a stage or breakout timer): at 10,000
//     sessions of 50 members reconnecting every few minutes, a few hundred
//     writes a second, some tens per shard. The connection list is
//     written once a minute per connection (its stale time): 500,000
//     connections make about 8,300 writes a second, 260 per shard. The
//     index projects keys only, so a write that does not move an item in
//     a list (a mic toggle, a rate limiter) writes nothing to it.
//   - WORKER: one entry per SFU worker, written every heartbeat (5 s): a
//     hundred workers make 20 writes a second.
//   - EVENT#<id>, USER#<id>, CONN#<id>: one event's bookings, one user,
//     one connection.
//
// GSI1 is sparse: only items that carry GSI1PK are in it: the
// time-ordered lists the scheduler walks, and the registry of SFU
// workers.
//
//	list                 GSI1PK             GSI1SK
//	items due            DUE#<shard>        <due>#<session>#<item>  (a session item at Session.HeadDue, a
//	                                                                  member item at Session.MemberDue)
//	connections          CONN#<shard>       <stale>#<conn>     (store.Connection.Stale)
//	SFU workers          WORKER             <id>
//
// Readers query every shard and merge them by GSI1SK. Reads of a global
// secondary index are eventually consistent: an item may show up a
// moment late, or at its previous time. The scheduler tolerates both: it
// applies Tick, which changes nothing (domain.ErrNoChange) for a session
// that is not due after all, and reads the items themselves, strongly
// consistent, before acting.
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
	prefixMember    = "MEMBER#"
	prefixQuestion  = "Q#"
	prefixVote      = "VOTE#"
	prefixChat      = "CHAT#"
	prefixConn      = "CONN#"
	prefixWorker    = "WORKER#"
	prefixGroup     = "GROUP#"
	skMeta          = "META"

	// chatMainRoom names the main room in chat sort keys.
	chatMainRoom = "main"

	// gsiDue and gsiConn prefix the GSI1 partitions (shards) of the items
	// due and of the connections by stale time.
	gsiDue  = "DUE#"
	gsiConn = "CONN#"
	// dueShards and connShards are how many shards each list has.
	dueShards  = 16
	connShards = 32
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

func memberKey(session domain.SessionID, user domain.UserID) key {
	return key{sessionPK(session), prefixMember + string(user)}
}

func questionKey(session domain.SessionID, id string) key {
	return key{sessionPK(session), prefixQuestion + id}
}

// votePrefix is the range of a user's votes.
func votePrefix(user domain.UserID) string { return prefixVote + string(user) + "#" }

func voteKey(session domain.SessionID, user domain.UserID, question string) key {
	return key{sessionPK(session), votePrefix(user) + question}
}

// voteParts returns the user and question of a vote's sort key. User ids
// hold no "#" (they are the API's own ids).
func voteParts(sk string) (domain.UserID, string, bool) {
	rest, ok := strings.CutPrefix(sk, prefixVote)
	if !ok {
		return "", "", false
	}
	u, q, ok := strings.Cut(rest, "#")
	return domain.UserID(u), q, ok
}

// sessionOf returns the session of a key in a session's partition.
func sessionOf(pk string) (domain.SessionID, bool) {
	id, ok := strings.CutPrefix(pk, prefixSession)
	return domain.SessionID(id), ok
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

func workerKey(id string) key { return key{prefixWorker + id, skMeta} }

// workerIndexKey files a worker in the list of workers, by id.
func workerIndexKey(id string) indexKey { return indexKey{gsiWorker, id} }

// indexKey is the GSI1 key of an item in one of the time-ordered lists.
type indexKey struct {
	PK string
	SK string
}

// shard spreads ids over n shards by a hash (FNV-1a) of id.
func shard(id string, n int) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id)) // hash writes never fail
	return strconv.Itoa(int(h.Sum32() % uint32(n)))
}

// dueIndexKey files an item of a session (its SK) in the list of items
// due at due, in the session's shard.
func dueIndexKey(due time.Time, id domain.SessionID, sk string) indexKey {
	return indexKey{gsiDue + shard(string(id), dueShards), keyTime(due) + "#" + string(id) + "#" + sk}
}

// staleIndexKey files a connection in the list of connections by the
// time API Gateway closes them, in the connection's shard.
func staleIndexKey(stale time.Time, id domain.ConnectionID) indexKey {
	return indexKey{gsiConn + shard(string(id), connShards), keyTime(stale) + "#" + string(id)}
}

// shards returns the GSI1 partitions of a list.
func shards(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + strconv.Itoa(i)
	}
	return out
}

// indexUpTo is the least GSI1SK greater than that of every item filed
// at or before t: "$" sorts right after the "#" that ends the time.
func indexUpTo(t time.Time) string { return keyTime(t) + "$" }

func groupPK(id domain.GroupID) string { return prefixGroup + string(id) }

func groupKey(id domain.GroupID) key { return key{groupPK(id), skMeta} }

func groupMemberKey(group domain.GroupID, user domain.UserID) key {
	return key{groupPK(group), prefixMember + string(user)}
}

// userGroupKey files a group in its member's partition.
func userGroupKey(user domain.UserID, group domain.GroupID) key {
	return key{prefixUser + string(user), prefixGroup + string(group)}
}

// groupChatKey orders a group's messages by time, then id.
func groupConnKey(group domain.GroupID, id domain.ConnectionID) key {
	return key{groupPK(group), prefixConn + string(id)}
}

func groupChatKey(group domain.GroupID, at time.Time, id string) key {
	return key{groupPK(group), prefixChat + keyTime(at) + "#" + id}
}

// userSessionKey files a session in its user's partition.
func userSessionKey(user domain.UserID, session domain.SessionID) key {
	return key{prefixUser + string(user), prefixSession + string(session)}
}

// Partition names a kind of partition of the table or of GSI1, for tools
// that account for the load on each partition (infra/sim) by the names
// the store really writes.
type Partition int

// The partitions PartitionKey names.
const (
	// PartSession is a session's partition (its item, members, questions,
	// votes, registrations and chat): id is the session.
	PartSession Partition = iota
	// PartConnection is a connection's item: id is the connection.
	PartConnection
	// PartWorker is an SFU worker's record: id is the worker.
	PartWorker
	// PartEvent is an event's partition (bookings, slots): id is the event.
	PartEvent
	// PartUser is a user's item: id is the user.
	PartUser
	// IndexDue is the GSI1 shard of the items due of session id.
	IndexDue
	// IndexConn is the GSI1 shard of connection id in the list by stale
	// time.
	IndexConn
	// IndexWorker is the GSI1 partition of every worker (id is ignored).
	IndexWorker
)

// PartitionKey returns the partition key (PK, or GSI1PK for the Index
// kinds) that the store writes for an item of kind about id.
func PartitionKey(kind Partition, id string) string {
	switch kind {
	case PartSession:
		return sessionPK(domain.SessionID(id))
	case PartConnection:
		return connectionKey(domain.ConnectionID(id)).PK
	case PartWorker:
		return workerKey(id).PK
	case PartEvent:
		return eventPK(domain.EventID(id))
	case PartUser:
		return userKey(domain.UserID(id)).PK
	case IndexDue:
		return gsiDue + shard(id, dueShards)
	case IndexConn:
		return gsiConn + shard(id, connShards)
	case IndexWorker:
		return gsiWorker
	}
	return ""
}

// IsIndex reports whether kind is a partition of GSI1 rather than of the
// table.
func (kind Partition) IsIndex() bool { return kind >= IndexDue }
