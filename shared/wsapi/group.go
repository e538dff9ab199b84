package wsapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/aws/aws-lambda-go/events"

	"github.com/greenroom-live/greenroom/shared/auth"
	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/groupfeed"
	"github.com/greenroom-live/greenroom/shared/store"
)

// A group's live chat socket: a member's browser on the group page holds
// one, opened with a join token scoped to the group; it only receives
// group.message events (groupfeed) and takes no command but state.get,
// acknowledged, which keeps it from going idle.

// errGroupSocket answers any other message on a group's socket.
var errGroupSocket = newWireError(CodeForbidden, "a group's socket only receives the group's events")

// connectGroup records a member's socket to a group's live chat: 404 when
// there is no such group, 403 for a non-member.
func (h *Handler) connectGroup(ctx context.Context, conn domain.ConnectionID, claims auth.Claims) events.APIGatewayProxyResponse {
	u := claims.UserID()
	if _, err := h.store.GetGroup(ctx, claims.Group); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return status(http.StatusNotFound)
		}
		h.log.ErrorContext(ctx, "connect: read group", "connectionId", conn, "groupId", claims.Group, "err", err)
		return status(http.StatusInternalServerError)
	}
	if _, err := h.store.GetGroupMember(ctx, claims.Group, u); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			h.log.InfoContext(ctx, "connect refused", "connectionId", conn, "groupId", claims.Group, "userId", u, "reason", "not a member")
			return status(http.StatusForbidden)
		}
		h.log.ErrorContext(ctx, "connect: read group member", "connectionId", conn, "groupId", claims.Group, "err", err)
		return status(http.StatusInternalServerError)
	}
	now := h.clock.Now()
	rec := store.Connection{ID: conn, GroupID: claims.Group, UserID: u, ConnectedAt: now, LastSeenAt: now}
	if err := h.store.PutGroupConnection(ctx, rec); err != nil {
		h.log.ErrorContext(ctx, "connect: record group connection", "connectionId", conn, "err", err)
		return status(http.StatusInternalServerError)
	}
	h.log.InfoContext(ctx, "connect", "connectionId", conn, "groupId", claims.Group, "userId", u)
	return status(http.StatusOK)
}

// dropGroupConnection forgets a group's socket.
func (h *Handler) dropGroupConnection(ctx context.Context, rec store.Connection) {
	if err := h.store.DeleteGroupConnection(ctx, rec.GroupID, rec.ID); err != nil {
		h.log.WarnContext(ctx, "forget group connection", "connectionId", rec.ID, "groupId", rec.GroupID, "err", err)
		return
	}
	h.log.InfoContext(ctx, "disconnect", "connectionId", rec.ID, "groupId", rec.GroupID, "userId", rec.UserID)
}

// handleGroup answers a message on a group's socket: state.get is
// acknowledged (a keepalive), anything else refused.
func (h *Handler) handleGroup(ctx context.Context, rec store.Connection, msg message) (any, string, string) {
	if err := h.throttle(ctx, rec, msg.Type); err != nil {
		we := toWire(err)
		return errorReply(msg.ID, we), msg.Type, we.code
	}
	if msg.Type != "state.get" {
		return errorReply(msg.ID, errGroupSocket), msg.Type, errGroupSocket.code
	}
	if now := h.clock.Now(); now.Sub(rec.LastSeenAt) >= touchEvery {
		if err := h.store.TouchConnection(ctx, rec.ID, now); err != nil {
			h.log.WarnContext(ctx, "touch connection", "connectionId", rec.ID, "err", err)
		}
	}
	return ackReply{Type: "ack", ID: msg.ID}, msg.Type, ""
}

// publishCard posts the card of a group's session to the group's sockets
// when the session goes live or ends. s holds every member.
func (h *Handler) publishCard(ctx context.Context, s domain.Session, changes []domain.Change) {
	if h.groups == nil || s.GroupID == "" {
		return
	}
	for _, c := range changes {
		if c.Event != "session.started" && !c.Ends() {
			continue
		}
		m := groupfeed.Message{
			ID: string(s.ID), Kind: domain.GroupMessageSession, UserID: s.HostID,
			SessionID: s.ID, Session: groupfeed.CardOf(s), At: s.CreatedAt,
		}
		if host, ok := s.Member(s.HostID); ok {
			m.Name = host.Name
		}
		h.groups.Publish(ctx, domain.GroupID(s.GroupID), m)
		return
	}
}
