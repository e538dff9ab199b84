package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/greenroom-live/greenroom/shared/auth"
	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// Active Sessions (seed 000): the sessions a user hosts, speaks in or
// joined, each with what it takes to rejoin. A host who left an instant
// session's setup screen rejoins from there within 30 minutes, as host;
// past that the entry says the session expired.

// activeSessionsShown bounds the entries GET /v1/me/sessions reads.
const activeSessionsShown = 20

// Entry states.
const (
	stateActive  = "active"
	stateExpired = "expired"
)

type activeSessionView struct {
	Session sessionView `json:"session"`
	// Role is what the caller is (or will be) in the session.
	Role domain.Role `json:"role"`
	// State is active (rejoin with POST .../join) or expired.
	State     string `json:"state"`
	CanRejoin bool   `json:"canRejoin"`
	// RejoinBy is when a host who left an instant session's setup
	// screen can rejoin no longer; null otherwise.
	RejoinBy *time.Time `json:"rejoinBy"`
	// LastJoinedAt is when the caller last joined, created, booked or
	// was named in the session.
	LastJoinedAt time.Time `json:"lastJoinedAt"`
}

// fileSession puts s in u's list of sessions. The list is a convenience:
// a failure is logged, never the caller's error.
func (h *Handler) fileSession(ctx context.Context, u domain.UserID, s domain.Session) {
	now := h.clock.Now()
	expires := now.Add(store.UserSessionTTL)
	if end := s.End.Add(store.UserSessionTTL); end.After(expires) {
		expires = end
	}
	if err := h.store.PutUserSession(ctx, store.UserSession{UserID: u, SessionID: s.ID, At: now, Expires: expires}); err != nil {
		h.log.WarnContext(ctx, "file session", "sessionId", s.ID, "userId", u, "err", err)
	}
}

func (h *Handler) activeSessions(ctx context.Context, r *request) (response, error) {
	if err := h.authenticate(r, auth.RoleUser, auth.RoleEmployer); err != nil {
		return response{}, err
	}
	u := r.claims.UserID()
	entries, err := h.store.ListUserSessions(ctx, u, activeSessionsShown)
	if err != nil {
		return response{}, err
	}
	now := h.clock.Now()
	out := []activeSessionView{}
	for _, e := range entries {
		s, err := h.store.ReadSession(ctx, e.SessionID, store.Load{Members: []domain.UserID{u}})
		switch {
		case errors.Is(err, store.ErrNotFound):
			continue
		case err != nil:
			return response{}, err
		}
		// The rules of time, as the scheduler will apply them: a host
		// gone past the window sees the session expired now.
		s.Tick(now)
		m, joined := s.Member(u)
		if s.Status == domain.StatusEnded || joined && m.Removed {
			continue
		}
		v := activeSessionView{Session: viewSession(s), Role: roleIn(s, u, m, joined), State: stateActive, CanRejoin: true, LastJoinedAt: e.At}
		if s.Status == domain.StatusExpired {
			v.State, v.CanRejoin = stateExpired, false
		}
		if by := s.RejoinDeadline(u); !by.IsZero() {
			v.RejoinBy = &by
		}
		out = append(out, v)
	}
	return response{http.StatusOK, map[string]any{"sessions": out}}, nil
}

// roleIn is u's role in s: its member's, or the one it takes on joining.
func roleIn(s domain.Session, u domain.UserID, m domain.Member, joined bool) domain.Role {
	switch {
	case joined:
		return m.Role
	case s.HostID == u:
		return domain.RoleHost
	case s.IsSpeaker(u):
		return domain.RoleSpeaker
	}
	return domain.RoleParticipant
}
