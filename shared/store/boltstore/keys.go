package boltstore

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"strings"
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
//	sessions       sessionID                  the session's own item: domain.Session without
//	                                          members and questions (Registered, Spots,
//	                                          QuestionCount, Seq and the stage kept here)
//	members        key(sessionID, userID)     domain.Member, one per member (OnStage and Room
//	                                          left out: they follow the session item)
//	questions      key(sessionID, questionID) domain.Question without its voters
//	votes          key(sessionID, userID, questionID)
//	                                          empty: one per vote
//	eventSessions  key(eventID, sessionID)    empty: the index behind ListEventSessions
//	slots          key(eventID, slotStart)    slotCount, slotStart in UTC RFC 3339
//	registrations  key(sessionID, userID)     domain.Registration
//	due            <due>#<sessionID>/<item>   empty: the index behind DueSessions; item is ""
//	                                          for the session item, "m/<userID>" for a member
//	itemDue        key(sessionID, item)       the item's key in due, when it has one
//	connections    connectionID               store.Connection (with its rate limiters)
//	stale          <stale>#<connectionID>     empty: the index behind StaleConnections
//	chat           key(sessionID, room, <at>#<messageID>)
//	                                          store.ChatMessage; room is "main" or the breakout index
//	workers        workerID                   store.Worker
//	groups         groupID                    domain.Group (Members kept here)
//	groupMembers   key(groupID, userID)       domain.GroupMember (with its chat limiter)
//	userGroups     key(userID, groupID)       empty: the index behind ListUserGroups
//	userSessions   key(userID, sessionID)     store.UserSession (dropped on read once expired)
//	groupChat      key(groupID, <at>#<messageID>)
//	                                          store.GroupMessage
//	groupConns     key(groupID, connectionID) store.Connection: a group's live chat sockets
//
// <due>, <stale> and <at> are UTC times of fixed width (keyTime), so that
// the byte order of keys is the order of time and the indexes are scanned
// from their first key up to a time. bbolt runs one write transaction at
// a time, so no key is "hot" here the way a DynamoDB partition can be;
// the layout follows the DynamoDB one item for item all the same, so
// that both stores write what Diff says and pass one contract suite.
var (
	bucketUsers         = []byte("users")
	bucketOrganizers    = []byte("organizers")
	bucketEvents        = []byte("events")
	bucketEmployers     = []byte("employers")
	bucketSessions      = []byte("sessions")
	bucketEventSessions = []byte("eventSessions")
	bucketSlots         = []byte("slots")
	bucketRegistrations = []byte("registrations")
	bucketMembers       = []byte("members")
	bucketQuestions     = []byte("questions")
	bucketVotes         = []byte("votes")
	bucketDue           = []byte("due")
	bucketItemDue       = []byte("itemDue")
	bucketConnections   = []byte("connections")
	bucketStale         = []byte("stale")
	bucketChat          = []byte("chat")
	bucketWorkers       = []byte("workers")
	bucketGroups        = []byte("groups")
	bucketGroupMembers  = []byte("groupMembers")
	bucketUserGroups    = []byte("userGroups")
	bucketGroupChat     = []byte("groupChat")
	bucketUserSessions  = []byte("userSessions")
	bucketGroupConns    = []byte("groupConns")
)

// buckets lists every bucket; Open creates those that are missing.
func buckets() [][]byte {
	return [][]byte{
		bucketUsers, bucketOrganizers, bucketEvents, bucketEmployers,
		bucketSessions, bucketMembers, bucketQuestions, bucketVotes,
		bucketEventSessions, bucketSlots, bucketRegistrations,
		bucketDue, bucketItemDue, bucketConnections, bucketStale,
		bucketChat, bucketWorkers,
		bucketGroups, bucketGroupMembers, bucketUserGroups, bucketGroupChat,
		bucketUserSessions, bucketGroupConns,
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

// keyTimeLayout is fixed width (nanoseconds always written), so that the
// byte order of keys that start with a time is the order of time.
const keyTimeLayout = "2006-01-02T15:04:05.000000000Z"

// keyTime writes t in UTC at a fixed width.
func keyTime(t time.Time) []byte { return []byte(t.UTC().Format(keyTimeLayout)) }

// timeKey is the key of an index ordered by time, then id: keyTime(t),
// "#" and id.
func timeKey(t time.Time, id string) []byte {
	return append(append(keyTime(t), '#'), id...)
}

// timeKeyDue reports whether a key made by timeKey (or one that starts
// with keyTime) is at or before now.
func timeKeyDue(k []byte, now time.Time) bool {
	return len(k) >= len(keyTimeLayout) && bytes.Compare(k[:len(keyTimeLayout)], keyTime(now)) <= 0
}

// timeKeyID returns the id of a key made by timeKey.
func timeKeyID(k []byte) string {
	if len(k) <= len(keyTimeLayout) {
		return ""
	}
	return string(k[len(keyTimeLayout)+1:])
}

// roomPart names a chat room in keys: "main" for the main room, else the
// breakout room's index.
func roomPart(room *int) string {
	if room == nil {
		return "main"
	}
	return strconv.Itoa(*room)
}

// chatRoomPrefix is the prefix of the keys of one room's messages.
func chatRoomPrefix(session domain.SessionID, room *int) []byte {
	return key(string(session), roomPart(room))
}

// chatKey orders a room's messages by time, then id.
func chatKey(session domain.SessionID, room *int, at time.Time, id string) []byte {
	return key(string(session), roomPart(room), string(timeKey(at, id)))
}

func memberKey(session domain.SessionID, user domain.UserID) []byte {
	return key(string(session), string(user))
}

func questionKey(session domain.SessionID, id string) []byte {
	return key(string(session), id)
}

// voteKey puts a user's votes together, so that the votes of one member
// are one range.
func voteKey(session domain.SessionID, user domain.UserID, question string) []byte {
	return key(string(session), string(user), question)
}

// voteParts returns the user and question of a key made by voteKey.
func voteParts(k []byte) (user, question string, ok bool) {
	var parts []string
	for len(k) > 0 {
		n, w := binary.Uvarint(k)
		if w <= 0 || uint64(len(k)-w) < n {
			return "", "", false
		}
		parts = append(parts, string(k[w:w+int(n)]))
		k = k[w+int(n):]
	}
	if len(parts) != 3 {
		return "", "", false
	}
	return parts[1], parts[2], true
}

// memberDueItem names a member's item in the due list.
func memberDueItem(u domain.UserID) string { return "m/" + string(u) }

// dueRef is what a due entry names: the session and its item.
func dueRef(session domain.SessionID, item string) string { return string(session) + "/" + item }

// dueSession returns the session of a due entry's reference.
func dueSession(ref string) domain.SessionID {
	id, _, _ := strings.Cut(ref, "/")
	return domain.SessionID(id)
}

// prefixEnd returns the least key greater than every key that starts
// with prefix, or nil when there is none (prefix is all 0xff).
func prefixEnd(prefix []byte) []byte {
	end := bytes.Clone(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

func groupMemberKey(group domain.GroupID, user domain.UserID) []byte {
	return key(string(group), string(user))
}

func userGroupKey(user domain.UserID, group domain.GroupID) []byte {
	return key(string(user), string(group))
}

// groupChatKey orders a group's messages by time, then id.
func groupChatKey(group domain.GroupID, at time.Time, id string) []byte {
	return key(string(group), string(timeKey(at, id)))
}
