// Package sfu is the SFU worker's room layer: one PeerConnection per
// member (publishing and subscribing on it), rooms and breakout groups,
// who may publish, and signaling. It knows sessions only as room ids and
// members; the packet path lives in package forward, which knows nothing
// of sessions.
//
// The control API (package control) and the local runner drive a Worker
// through the methods below. Server-originated signaling (offers for
// renegotiation, trickled candidates) leaves through Config.Signal.
package sfu

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"time"

	"github.com/greenroom-live/greenroom/shared/sfuapi"
)

// The room's desired state is the control API's (shared/sfuapi): the
// worker applies what the session says, in the types the WebSocket
// handler sends. RoomState.Version orders updates (an older one is
// ignored); a new MemberState.Connection for a member already in the room
// means a new PeerConnection: the old one goes with its tracks and
// subscriptions, and the member's next offer starts afresh.
type (
	RoomID       = sfuapi.RoomID
	MemberID     = sfuapi.MemberID
	ConnectionID = sfuapi.ConnectionID
	MemberState  = sfuapi.MemberState
	RoomState    = sfuapi.RoomState
)

// MainGroup is the main room; breakout rooms are groups 0..9.
const MainGroup = sfuapi.MainGroup

// Signal sends a server-originated message to a member's connection:
// msgType is media.offer or media.candidate, payload its JSON body
// ({"sdp":…} or {"candidate":…}).
type Signal func(ctx context.Context, room RoomID, member MemberID, conn ConnectionID, msgType string, payload json.RawMessage) error

// Config configures a Worker.
type Config struct {
	// UDP is the one socket all ICE traffic over UDP shares (UDP mux).
	UDP net.PacketConn
	// TCP, when not nil, carries ICE over TCP on one listener.
	TCP net.Listener
	// PublicIPs are the addresses ICE advertises (NAT 1:1); empty means
	// the sockets' own addresses.
	PublicIPs []string
	// Signal delivers server-originated signaling (required).
	Signal Signal
	// ActiveSpeaker, when not nil, hears which member of a room's group
	// speaks loudest (from RFC 6464 audio levels).
	ActiveSpeaker func(room RoomID, group int, member MemberID)
	// AnswerTimeout is how long an offer of the worker waits for its
	// answer before it is retired and the worker offers again
	// (DefaultAnswerTimeout when zero).
	AnswerTimeout time.Duration
	// OfferBackoff is the wait before offering again after a retired
	// offer; it doubles with each one in a row, up to 30 seconds
	// (DefaultOfferBackoff when zero).
	OfferBackoff time.Duration
	Logger       *slog.Logger
}

// DefaultOfferBackoff is Config.OfferBackoff's default.
const DefaultOfferBackoff = 250 * time.Millisecond

// DefaultAnswerTimeout is Config.AnswerTimeout's default: browsers answer
// in milliseconds, and a signaling round trip through API Gateway and
// Lambda takes well under a second.
const DefaultAnswerTimeout = 10 * time.Second

// Errors of the worker.
var (
	ErrNoSignal   = errors.New("sfu: no signal function")
	ErrNoUDP      = errors.New("sfu: no UDP socket")
	ErrNoRoom     = errors.New("sfu: no such room")
	ErrNoMember   = errors.New("sfu: no such member in the room")
	ErrBadSDP     = errors.New("sfu: malformed session description")
	ErrClosed     = errors.New("sfu: worker closed")
	ErrBadMessage = errors.New("sfu: unknown signaling message")
	// ErrStaleAnswer is returned for an answer to an offer the worker no
	// longer waits for: its negotiationId is not the pending offer's (the
	// offer was retired, or dropped when a client offer crossed it), or no
	// offer is pending. Nothing is applied.
	ErrStaleAnswer = errors.New("sfu: answer to an offer that is no longer pending")
)

// Stats is a snapshot for metrics and load reporting.
type Stats struct {
	Rooms            int
	Members          int
	Tracks           int
	PacketsForwarded uint64
	BytesForwarded   uint64
	// NACKs counts the sequence numbers subscribers asked again for;
	// Resent those answered from the publishers' retransmission caches.
	NACKs  uint64
	Resent uint64
	PLIs   uint64
	// Estimates are the bandwidth estimates (bit/s) of the subscribers'
	// tracks that have one.
	Estimates []int64
	// TWCCFeedbacks counts the TWCC feedback packets subscribers sent,
	// Overuses the times the delay-based estimator found a subscriber's
	// link congested and cut its estimate.
	TWCCFeedbacks uint64
	Overuses      uint64
	// DirectSRTP counts the packets of current members' connections
	// protected and sent by the worker's own SRTP writer rather than
	// pion's (srtpdirect.go).
	DirectSRTP uint64
	// FastReads counts the publishers' packets the worker read and
	// decrypted below pion's receive pipeline (fastread.go).
	FastReads uint64
	// FastFeedbacks counts the subscribers' SRTCP packets of feedback
	// (receiver reports, NACKs, PLIs, REMB, TWCC) the worker read and
	// applied below pion.
	FastFeedbacks uint64
}

// The Worker's methods (worker.go):
//
//	func New(cfg Config) (*Worker, error)
//	// Apply makes a room match st: creates it, adds and removes members,
//	// sets who may publish and who sees whom. Idempotent; older versions
//	// are ignored.
//	func (w *Worker) Apply(ctx context.Context, st RoomState) error
//	// Signal takes a member's media.offer, media.answer or
//	// media.candidate (payload {"sdp":…} or {"candidate":…}).
//	func (w *Worker) Signal(ctx context.Context, room RoomID, member MemberID, msgType string, payload json.RawMessage) error
//	func (w *Worker) CloseRoom(ctx context.Context, room RoomID) error
//	func (w *Worker) Rooms() []RoomID
//	func (w *Worker) Stats() Stats
//	func (w *Worker) Close() error
