package domain

import (
	"fmt"
	"strings"
	"time"
)

// A group is a chat of users with its own members (seed 002): PrimeTime
// sessions live inside a group, started by one of its members, who hosts
// it, and joined only by its members.

// GroupRole is what a member is in its group.
type GroupRole string

const (
	// GroupOwner created the group.
	GroupOwner GroupRole = "owner"
	// GroupMemberRole joined by an invite link.
	GroupMemberRole GroupRole = "member"
)

// MaxGroupMembers is the most members a group holds: as many as a
// PrimeTime session, so that every member can join the group's session.
const MaxGroupMembers = PrimetimeCapacity

// GroupChatRate limits each member's group chat as the session chat is
// limited per connection: bursts of 5, then one message every 2 seconds.
var GroupChatRate = Rate{Burst: 5, Every: 2 * time.Second}

// Group is a group's own item.
type Group struct {
	ID      GroupID `json:"id"`
	Name    string  `json:"name"`
	OwnerID UserID  `json:"ownerId"`
	// Members counts its members; the store never lets it pass
	// MaxGroupMembers.
	Members   int       `json:"members"`
	CreatedAt time.Time `json:"createdAt"`
}

// GroupMember is one member of a group.
type GroupMember struct {
	GroupID  GroupID   `json:"groupId"`
	UserID   UserID    `json:"userId"`
	Name     string    `json:"name"`
	Role     GroupRole `json:"role"`
	JoinedAt time.Time `json:"joinedAt"`
	// ChatLimit is the member's chat rate limiter (GroupChatRate's
	// theoretical arrival time), changed only by the store's
	// SetGroupChatLimit; zero when never used.
	ChatLimit time.Time `json:"chatLimit,omitzero"`
}

// NewGroup creates a group owned by owner (named ownerName), its first
// member.
func NewGroup(owner UserID, ownerName, name string, now time.Time) (Group, GroupMember, error) {
	name = strings.TrimSpace(name)
	if n := RuneLen(name); n < 1 || !TextFits(name, MaxTitleLen, MaxTitleBytes) || !Printable(name) {
		return Group{}, GroupMember{}, FieldErrors{"name": fmt.Sprintf("must be 1 to %d characters", MaxTitleLen)}
	}
	g := Group{ID: GroupID("g" + NewID(11)), Name: name, OwnerID: owner, Members: 1, CreatedAt: now}
	return g, GroupMember{GroupID: g.ID, UserID: owner, Name: ownerName, Role: GroupOwner, JoinedAt: now}, nil
}

// GroupMessage kinds: a member's text, or the card of a PrimeTime session
// started in the group (with a Join button for every member).
const (
	GroupMessageText    = "text"
	GroupMessageSession = "session"
)
