package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/greenroom-live/greenroom/shared/auth"
	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
	"github.com/greenroom-live/greenroom/shared/turncred"
)

// TURNConfig is how the API mints TURN credentials for members: the REST
// scheme (username `expiry:userId`, password the HMAC of it under the
// secret the TURN server shares).
type TURNConfig struct {
	Secret string
	// URLs are the TURN server's addresses, e.g. turn:turn.example.com:3478?transport=udp.
	URLs []string
	// TTL is how long the credentials work (DefaultTURNTTL when zero).
	TTL time.Duration
}

// DefaultTURNTTL is the lifetime of TURN credentials: a session's length,
// with room to spare.
const DefaultTURNTTL = 6 * time.Hour

type iceServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

type joinRequest struct {
	Device string `json:"device" validate:"required,oneof=mobile web"`
}

// join admits the caller to the session as one atomic step and hands out
// what the client needs to connect: the WebSocket URL, a join token scoped
// to this session, user and device, and TURN credentials.
func (h *Handler) join(ctx context.Context, r *request) (response, error) {
	if err := h.authenticate(r, auth.RoleUser, auth.RoleEmployer); err != nil {
		return response{}, err
	}
	var req joinRequest
	if err := h.decode(r.body, &req); err != nil {
		return response{}, err
	}
	s, err := h.session(ctx, r)
	if err != nil {
		return response{}, err
	}
	u := r.claims.UserID()
	if s.GroupID != "" && !s.Status.Over() {
		// Only the group's members join its PrimeTime sessions.
		if _, err := h.groupMember(ctx, domain.GroupID(s.GroupID), u); err != nil {
			return response{}, err
		}
	}
	registered := false
	if s.Kind == domain.KindScheduled && !s.IsSpeaker(u) {
		_, err := h.store.GetRegistration(ctx, s.ID, u)
		switch {
		case err == nil:
			registered = true
		case !errors.Is(err, store.ErrNotFound):
			return response{}, err
		}
	}
	name := r.claims.Name
	if name == "" {
		name = string(u)
	}
	now := h.clock.Now()
	j := domain.Joiner{UserID: u, Name: name, Device: domain.Device(req.Device), Registered: registered}
	// The member's own item and the session's counter of spots are all
	// a join writes; a full room reads every member to take back the
	// spots that lapsed (domain.ErrPartial).
	var admitErr error
	s, err = h.store.Update(ctx, s.ID, store.Load{Members: []domain.UserID{u}}, func(s *domain.Session) error {
		if due := s.HeadDue(); s.Live.Partial && !due.IsZero() && !due.After(now) {
			return domain.ErrPartial // the session item is due: Tick sees every member
		}
		changed := len(s.Tick(now)) > 0
		_, admitErr = s.Admit(j, now)
		if errors.Is(admitErr, domain.ErrPartial) {
			return admitErr
		}
		if admitErr != nil && !changed {
			return admitErr
		}
		return nil
	})
	if err == nil {
		err = admitErr
	}
	switch {
	case errors.Is(err, domain.ErrSessionOver):
		return response{}, over(s)
	case errors.Is(err, domain.ErrNotRegistered):
		return response{}, newError(http.StatusForbidden, CodeNotRegistered, "register for this session first; it admits others once it is live")
	case errors.Is(err, domain.ErrRoomFull):
		return response{}, newError(http.StatusForbidden, CodeSessionFull, "the session holds as many members as it may")
	case errors.Is(err, domain.ErrRemoved):
		return response{}, newError(http.StatusForbidden, CodeForbidden, "you were removed from this session")
	case errors.Is(err, store.ErrNotFound):
		return response{}, notFound("session")
	case errors.Is(err, store.ErrContention):
		// Not a fault of ours to hide behind a 500: the join can simply
		// be tried again.
		return response{}, newError(http.StatusConflict, CodeConflict, "too many changes to this session at once; try again")
	case err != nil:
		return response{}, err
	}
	h.fileSession(ctx, u, s)
	tok, err := h.tokens.Mint(string(u), auth.Claims{Role: auth.RoleJoin, Name: name, SessionID: s.ID, Device: domain.Device(req.Device)})
	if err != nil {
		return response{}, err
	}
	ice := h.iceServers(u)
	return response{http.StatusOK, map[string]any{
		"wsUrl":      h.wsURL(r),
		"joinToken":  tok,
		"iceServers": ice,
		"session":    viewSession(s),
		"userId":     u,
	}}, nil
}

// iceServers mints TURN credentials for u by the handler's clock (pion's
// REST helper would read the wall clock, which the TURN server does not).
func (h *Handler) iceServers(u domain.UserID) []iceServer {
	if h.turn.Secret == "" || len(h.turn.URLs) == 0 {
		return []iceServer{}
	}
	ttl := h.turn.TTL
	if ttl <= 0 {
		ttl = DefaultTURNTTL
	}
	user, pass := turncred.Mint(h.turn.Secret, string(u), h.clock.Now().Add(ttl))
	return []iceServer{{URLs: h.turn.URLs, Username: user, Credential: pass}}
}

// wsURL is where clients open the session's WebSocket.
func (h *Handler) wsURL(r *request) string {
	if h.wsBase != "" {
		return h.wsBase
	}
	base := h.shareBase(r)
	return "wss://" + strings.TrimPrefix(base, "https://") + "/ws"
}
