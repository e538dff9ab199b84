package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/greenroom-live/greenroom/shared/auth"
	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// Co-speakers (seed 001): the employer who booked a scheduled session
// names co-speakers when booking or afterwards, by user id or by an
// invite link, up to the stage's speaker seats (the employer included).

type addSpeakerRequest struct {
	UserID string `json:"userId" validate:"required,max=64"`
}

type inviteRedeemRequest struct {
	Invite string `json:"invite" validate:"required,max=2048"`
}

// ownedSession reads the session of the path and checks that the caller
// is the employer who booked it.
func (h *Handler) ownedSession(ctx context.Context, r *request) (domain.Session, error) {
	if err := h.authenticate(r, auth.RoleEmployer); err != nil {
		return domain.Session{}, err
	}
	s, err := h.session(ctx, r)
	if err != nil {
		return s, err
	}
	if !s.IsOwner(r.claims.UserID()) {
		return s, newError(http.StatusForbidden, CodeForbidden, "only the employer who booked this session names its speakers")
	}
	return s, nil
}

// speakerLimit is how many speakers a session names at most: the seats
// its stage has for speakers.
func speakerLimit(s domain.Session) int {
	if s.Stage.MaxSpeakers > 0 {
		return s.Stage.MaxSpeakers
	}
	return domain.MaxSpeakers
}

// nameSpeaker adds u to the session's speakers, atomically within the limit.
func (h *Handler) nameSpeaker(ctx context.Context, s domain.Session, u domain.UserID) (response, error) {
	if s.Status.Over() {
		return response{}, over(s)
	}
	out, err := h.store.AddSpeaker(ctx, s.ID, u, speakerLimit(s))
	switch {
	case errors.Is(err, store.ErrSessionOver):
		return response{}, over(s)
	case errors.Is(err, store.ErrNotFound):
		return response{}, notFound("session")
	case err != nil:
		return response{}, err
	}
	h.fileSession(ctx, u, out)
	return response{http.StatusOK, map[string]any{"session": viewSession(out)}}, nil
}

func (h *Handler) addSpeaker(ctx context.Context, r *request) (response, error) {
	s, err := h.ownedSession(ctx, r)
	if err != nil {
		return response{}, err
	}
	var req addSpeakerRequest
	if err := h.decode(r.body, &req); err != nil {
		return response{}, err
	}
	u := domain.UserID(req.UserID)
	if _, err := h.store.GetUser(ctx, u); errors.Is(err, store.ErrNotFound) {
		return response{}, invalidField("userId", "is not a known user")
	} else if err != nil {
		return response{}, err
	}
	return h.nameSpeaker(ctx, s, u)
}

func (h *Handler) inviteSpeaker(ctx context.Context, r *request) (response, error) {
	s, err := h.ownedSession(ctx, r)
	if err != nil {
		return response{}, err
	}
	if s.Status.Over() {
		return response{}, over(s)
	}
	tok, err := h.tokens.Mint(string(s.ID), auth.Claims{Role: auth.RoleInvite, SessionID: s.ID})
	if err != nil {
		return response{}, err
	}
	link := h.shareBase(r) + "/s/" + string(s.ID) + "?speakerInvite=" + url.QueryEscape(tok)
	return response{http.StatusCreated, inviteView{Invite: tok, URL: link, ExpiresAt: h.clock.Now().Add(auth.InviteTTL)}}, nil
}

func (h *Handler) redeemSpeakerInvite(ctx context.Context, r *request) (response, error) {
	if err := h.authenticate(r, auth.RoleUser); err != nil {
		return response{}, err
	}
	var req inviteRedeemRequest
	if err := h.decode(r.body, &req); err != nil {
		return response{}, err
	}
	c, err := h.tokens.Verify(req.Invite)
	if err != nil || c.Role != auth.RoleInvite || c.SessionID != domain.SessionID(r.params["sessionId"]) {
		return response{}, invalidField("invite", "is not a valid speaker invite of this session")
	}
	s, err := h.session(ctx, r)
	if err != nil {
		return response{}, err
	}
	return h.nameSpeaker(ctx, s, r.claims.UserID())
}

// removeSpeaker takes a co-speaker off the session's speakers (the owner
// only), freeing the seat. The owner itself is always a speaker (409
// conflict). A removed co-speaker who is in the live room keeps what it
// has there until its next join, from which it is a participant (a
// registration or a free spot, like anyone); a moderator takes it off
// the stage meanwhile, as any participant.
func (h *Handler) removeSpeaker(ctx context.Context, r *request) (response, error) {
	s, err := h.ownedSession(ctx, r)
	if err != nil {
		return response{}, err
	}
	u := domain.UserID(r.params["userId"])
	if s.IsOwner(u) {
		return response{}, newError(http.StatusConflict, CodeConflict, "the employer who booked the session is always one of its speakers")
	}
	if s.Status.Over() {
		return response{}, over(s)
	}
	out, err := h.store.RemoveSpeaker(ctx, s.ID, u)
	switch {
	case errors.Is(err, store.ErrSessionOver):
		return response{}, over(s)
	case errors.Is(err, store.ErrNotFound):
		return response{}, notFound("session")
	case errors.Is(err, store.ErrNotSpeaker):
		return response{}, notFound("speaker")
	case err != nil:
		return response{}, err
	}
	return response{http.StatusOK, map[string]any{"session": viewSession(out)}}, nil
}
