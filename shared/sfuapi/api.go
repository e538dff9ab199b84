// Package sfuapi is what the session handlers need of the SFU workers,
// and nothing of the workers themselves: the control API's wire types
// and its client, and the choice of a worker from the registry the
// workers keep in the store. It imports no pion and no Prometheus, so the
// Lambda functions link neither (`go list -deps ./functions/...`).
//
// The worker serves the API (package sfuworker/control) and converts
// these types to its own (package sfuworker/sfu).
//
//	PUT    /v1/rooms/{room}                         RoomState
//	DELETE /v1/rooms/{room}
//	POST   /v1/rooms/{room}/members/{member}/signal {"type","payload"}
//
// Every call carries "Authorization: Bearer <secret>". Successful calls
// answer 204 without a body; errors answer {"error":{"code","message"}}.
package sfuapi

// RoomID is a session id; MemberID a user id; ConnectionID the member's
// WebSocket connection, where its signaling goes.
type (
	RoomID       string
	MemberID     string
	ConnectionID string
)

// MainGroup is the main room; breakout rooms are groups 0..9.
const MainGroup = -1

// MemberState is what the session says of one member: the worker forwards
// a member's tracks only while it may publish, and only to members of the
// same group.
type MemberState struct {
	ID MemberID `json:"id"`
	// Connection is where the member's signaling goes. Another one for a
	// member already in the room (it reconnected) means a new
	// PeerConnection.
	Connection ConnectionID `json:"connection"`
	// Publish: the member may publish (on stage; in an open breakout
	// room, up to the room's stage limits).
	Publish bool `json:"publish"`
	// Mic and Cam off stop forwarding that kind of track.
	Mic bool `json:"mic"`
	Cam bool `json:"cam"`
	// Group is MainGroup or a breakout room index.
	Group int `json:"group"`
}

// RoomState is the whole desired state of a room. Version grows with
// every change of the session's items (domain.Session.StateVersion): a
// state older than the one applied is ignored, so updates may arrive in
// any order.
type RoomState struct {
	Room    RoomID        `json:"room"`
	Version int64         `json:"version"`
	Members []MemberState `json:"members"`
}

// Signaling message types a member may send to the worker.
const (
	TypeOffer     = "media.offer"
	TypeAnswer    = "media.answer"
	TypeCandidate = "media.candidate"
)

// Limits of the control API.
const (
	// MaxBodyBytes bounds a request body.
	MaxBodyBytes = 1 << 20
	// MinSecretLen is the shortest shared secret accepted.
	MinSecretLen = 16
)
