package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/greenroom-live/greenroom/shared/auth"
	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

func (h *Handler) routes() {
	r := &h.router
	r.add(http.MethodPost, "/v1/users", h.createUser)
	r.add(http.MethodPost, "/v1/organizers", h.createOrganizer)
	r.add(http.MethodPost, "/v1/events", h.createEvent)
	r.add(http.MethodGet, "/v1/events/{eventId}", h.getEvent)
	r.add(http.MethodPost, "/v1/events/{eventId}/employers", h.createEmployer)
	r.add(http.MethodGet, "/v1/events/{eventId}/slots", h.listSlots)
	r.add(http.MethodPost, "/v1/events/{eventId}/sessions", h.bookSession)
	r.add(http.MethodGet, "/v1/events/{eventId}/sessions", h.listEventSessions)
	r.add(http.MethodPost, "/v1/sessions", h.createSession)
	r.add(http.MethodGet, "/v1/sessions/{sessionId}", h.getSession)
	r.add(http.MethodPost, "/v1/sessions/{sessionId}/registrations", h.register)
	r.add(http.MethodDelete, "/v1/sessions/{sessionId}/registrations/me", h.cancelRegistration)
	r.add(http.MethodPost, "/v1/sessions/{sessionId}/join", h.join)
	r.add(http.MethodPost, "/v1/sessions/{sessionId}/speakers", h.addSpeaker)
	r.add(http.MethodPost, "/v1/sessions/{sessionId}/speaker-invites", h.inviteSpeaker)
	r.add(http.MethodPost, "/v1/sessions/{sessionId}/speakers/me", h.redeemSpeakerInvite)
	r.add(http.MethodDelete, "/v1/sessions/{sessionId}/speakers/{userId}", h.removeSpeaker)
	r.add(http.MethodGet, "/v1/me/sessions", h.activeSessions)
	r.add(http.MethodPost, "/v1/groups", h.createGroup)
	r.add(http.MethodGet, "/v1/groups", h.listGroups)
	r.add(http.MethodGet, "/v1/groups/{groupId}", h.getGroup)
	r.add(http.MethodPost, "/v1/groups/{groupId}/invites", h.inviteToGroup)
	r.add(http.MethodPost, "/v1/groups/{groupId}/members/me", h.joinGroup)
	r.add(http.MethodDelete, "/v1/groups/{groupId}/members/me", h.leaveGroup)
	r.add(http.MethodDelete, "/v1/groups/{groupId}/members/{userId}", h.removeGroupMember)
	r.add(http.MethodGet, "/v1/groups/{groupId}/messages", h.groupMessages)
	r.add(http.MethodPost, "/v1/groups/{groupId}/messages", h.postGroupMessage)
	r.add(http.MethodPost, "/v1/groups/{groupId}/socket", h.groupSocket)
}

// ---- identities

type createUserRequest struct {
	Name   string `json:"name" validate:"required,notblank,printable,max=64"`
	Device string `json:"device" validate:"omitempty,oneof=mobile web"`
}

func (h *Handler) createUser(ctx context.Context, r *request) (response, error) {
	var req createUserRequest
	if err := h.decode(r.body, &req); err != nil {
		return response{}, err
	}
	u := domain.User{ID: domain.UserID("u" + domain.NewID(15)), Name: strings.TrimSpace(req.Name), Device: domain.Device(req.Device), CreatedAt: h.clock.Now()}
	if err := h.store.CreateUser(ctx, u); err != nil {
		return response{}, err
	}
	tok, err := h.tokens.Mint(string(u.ID), auth.Claims{Role: auth.RoleUser, Name: u.Name})
	if err != nil {
		return response{}, err
	}
	return response{http.StatusCreated, map[string]any{"user": userView{u.ID, u.Name, u.Device}, "token": tok}}, nil
}

type nameRequest struct {
	Name string `json:"name" validate:"required,notblank,printable,max=64"`
}

func (h *Handler) createOrganizer(ctx context.Context, r *request) (response, error) {
	if !auth.KeysEqual(r.header("X-Admin-Key"), h.adminKey) {
		return response{}, newError(http.StatusUnauthorized, CodeUnauthenticated, "a valid X-Admin-Key header is required")
	}
	var req nameRequest
	if err := h.decode(r.body, &req); err != nil {
		return response{}, err
	}
	o := domain.Organizer{ID: domain.OrganizerID("o" + domain.NewID(15)), Name: strings.TrimSpace(req.Name), CreatedAt: h.clock.Now()}
	if err := h.store.CreateOrganizer(ctx, o); err != nil {
		return response{}, err
	}
	tok, err := h.tokens.Mint(string(o.ID), auth.Claims{Role: auth.RoleOrganizer, Name: o.Name})
	if err != nil {
		return response{}, err
	}
	return response{http.StatusCreated, map[string]any{"organizer": organizerView{o.ID, o.Name}, "token": tok}}, nil
}

// ---- events

type windowRequest struct {
	Start string `json:"start" validate:"required"`
	End   string `json:"end" validate:"required"`
}

type stageRequest struct {
	MaxSpeakers     *int `json:"maxSpeakers" validate:"omitempty,min=1,max=4"`
	MaxParticipants *int `json:"maxParticipants" validate:"omitempty,min=0,max=6"`
}

type createEventRequest struct {
	Name                   string          `json:"name" validate:"required,notblank,printable,max=120"`
	Windows                []windowRequest `json:"windows" validate:"required,min=1,max=20,dive"`
	SlotMinutes            int             `json:"slotMinutes" validate:"required,min=5,max=480"`
	Capacity               *int            `json:"capacity" validate:"omitempty,min=1,max=50"`
	MaxSessionsPerEmployer *int            `json:"maxSessionsPerEmployer" validate:"omitempty,min=1,max=10000"`
	MaxSessions            *int            `json:"maxSessions" validate:"omitempty,min=1,max=10000"`
	SessionsPerSlot        *int            `json:"sessionsPerSlot" validate:"omitempty,min=1,max=10000"`
	Stage                  *stageRequest   `json:"stage"`
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

func (h *Handler) createEvent(ctx context.Context, r *request) (response, error) {
	if err := h.authenticate(r, auth.RoleOrganizer); err != nil {
		return response{}, err
	}
	var req createEventRequest
	if err := h.decode(r.body, &req); err != nil {
		return response{}, err
	}
	ev := domain.Event{
		ID:                     domain.EventID("e" + domain.NewID(11)),
		OrganizerID:            domain.OrganizerID(r.claims.Subject()),
		Name:                   strings.TrimSpace(req.Name),
		SlotMinutes:            req.SlotMinutes,
		Capacity:               deref(req.Capacity),
		MaxSessionsPerEmployer: deref(req.MaxSessionsPerEmployer),
		MaxSessions:            deref(req.MaxSessions),
		SessionsPerSlot:        deref(req.SessionsPerSlot),
		CreatedAt:              h.clock.Now(),
	}
	if req.Stage != nil {
		ev.Stage = domain.StageLimits{MaxSpeakers: deref(req.Stage.MaxSpeakers), MaxParticipants: deref(req.Stage.MaxParticipants)}
		if req.Stage.MaxSpeakers == nil {
			ev.Stage.MaxSpeakers = domain.MaxSpeakers
		}
		if req.Stage.MaxParticipants == nil {
			ev.Stage.MaxParticipants = domain.MaxStageParticipants
		}
	}
	bad := domain.FieldErrors{}
	for i, w := range req.Windows {
		start, err1 := parseTime(w.Start)
		end, err2 := parseTime(w.End)
		if err1 != nil {
			bad[fmt.Sprintf("windows[%d].start", i)] = "must be an RFC 3339 time"
		}
		if err2 != nil {
			bad[fmt.Sprintf("windows[%d].end", i)] = "must be an RFC 3339 time"
		}
		ev.Windows = append(ev.Windows, domain.Window{Start: start, End: end})
	}
	if len(bad) > 0 {
		return response{}, bad
	}
	ev.Normalize()
	if err := ev.Validate(); err != nil {
		return response{}, err
	}
	if err := h.store.CreateEvent(ctx, ev); err != nil {
		return response{}, err
	}
	return response{http.StatusCreated, viewEvent(ev)}, nil
}

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}

func (h *Handler) event(ctx context.Context, r *request) (domain.Event, error) {
	ev, err := h.store.GetEvent(ctx, domain.EventID(r.params["eventId"]))
	if errors.Is(err, store.ErrNotFound) {
		return ev, notFound("event")
	}
	return ev, err
}

func (h *Handler) getEvent(ctx context.Context, r *request) (response, error) {
	ev, err := h.event(ctx, r)
	if err != nil {
		return response{}, err
	}
	return response{http.StatusOK, viewEvent(ev)}, nil
}

func (h *Handler) createEmployer(ctx context.Context, r *request) (response, error) {
	if err := h.authenticate(r, auth.RoleOrganizer); err != nil {
		return response{}, err
	}
	ev, err := h.event(ctx, r)
	if err != nil {
		return response{}, err
	}
	if string(ev.OrganizerID) != r.claims.Subject() {
		return response{}, newError(http.StatusForbidden, CodeForbidden, "only the event's organizer adds its employers")
	}
	var req nameRequest
	if err := h.decode(r.body, &req); err != nil {
		return response{}, err
	}
	emp := domain.Employer{ID: domain.EmployerID("m" + domain.NewID(15)), EventID: ev.ID, Name: strings.TrimSpace(req.Name), CreatedAt: h.clock.Now()}
	if err := h.store.CreateEmployer(ctx, emp); err != nil {
		return response{}, err
	}
	tok, err := h.tokens.Mint(string(emp.ID), auth.Claims{Role: auth.RoleEmployer, Name: emp.Name, EventID: ev.ID})
	if err != nil {
		return response{}, err
	}
	return response{http.StatusCreated, map[string]any{"employer": employerView{emp.ID, emp.Name, emp.EventID}, "token": tok}}, nil
}

func (h *Handler) listSlots(ctx context.Context, r *request) (response, error) {
	ev, err := h.event(ctx, r)
	if err != nil {
		return response{}, err
	}
	used, err := h.store.SlotUsage(ctx, ev.ID)
	if err != nil {
		return response{}, err
	}
	// Only the limits the organizer set count down: an unset one is no
	// number to show (the internal defaults are not).
	eventSet, slotSet := ev.LimitSet(domain.LimitMaxSessions), ev.LimitSet(domain.LimitSessionsPerSlot)
	eventLeft := max(ev.MaxSessions-ev.SessionsBooked, 0)
	slots := []slotView{}
	for _, s := range ev.Slots() {
		v := slotView{Start: s.Start, End: s.End}
		slotLeft := max(ev.SessionsPerSlot-used[s.Start], 0)
		switch {
		case eventSet && slotSet:
			v.SessionsLeft = ptr(min(slotLeft, eventLeft))
		case slotSet:
			v.SessionsLeft = ptr(slotLeft)
		case eventSet:
			v.SessionsLeft = ptr(eventLeft)
		}
		slots = append(slots, v)
	}
	return response{http.StatusOK, map[string]any{"slots": slots}}, nil
}

// ---- sessions

type bookSessionRequest struct {
	Start    string   `json:"start" validate:"required"`
	Title    string   `json:"title" validate:"required,notblank,printable,max=120"`
	Speakers []string `json:"speakers" validate:"max=3,dive,required,max=64"`
}

func (h *Handler) bookSession(ctx context.Context, r *request) (response, error) {
	if err := h.authenticate(r, auth.RoleEmployer); err != nil {
		return response{}, err
	}
	if string(r.claims.EventID) != r.params["eventId"] {
		return response{}, newError(http.StatusForbidden, CodeForbidden, "an employer books only in its own event")
	}
	var req bookSessionRequest
	if err := h.decode(r.body, &req); err != nil {
		return response{}, err
	}
	start, err := parseTime(req.Start)
	if err != nil {
		return response{}, invalidField("start", "must be an RFC 3339 time")
	}
	ev, err := h.event(ctx, r)
	if err != nil {
		return response{}, err
	}
	speakers := make([]domain.UserID, 0, len(req.Speakers))
	bad := domain.FieldErrors{}
	for i, id := range req.Speakers {
		if _, err := h.store.GetUser(ctx, domain.UserID(id)); errors.Is(err, store.ErrNotFound) {
			bad[fmt.Sprintf("speakers[%d]", i)] = "is not a known user"
		} else if err != nil {
			return response{}, err
		}
		speakers = append(speakers, domain.UserID(id))
	}
	if len(bad) > 0 {
		return response{}, bad
	}
	s, err := domain.NewScheduledSession(ev, domain.EmployerID(r.claims.Subject()), start, strings.TrimSpace(req.Title), speakers, h.clock.Now())
	if err != nil {
		return response{}, err
	}
	if err := h.store.BookSession(ctx, s, store.LimitsOf(ev)); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return response{}, notFound("employer")
		}
		return response{}, err
	}
	for _, sp := range s.Speakers {
		h.fileSession(ctx, sp, s)
	}
	return response{http.StatusCreated, viewSession(s)}, nil
}

func (h *Handler) listEventSessions(ctx context.Context, r *request) (response, error) {
	ev, err := h.event(ctx, r)
	if err != nil {
		return response{}, err
	}
	list, err := h.store.ListEventSessions(ctx, ev.ID)
	if err != nil {
		return response{}, err
	}
	out := make([]sessionView, len(list))
	for i, s := range list {
		out[i] = viewSession(s)
	}
	return response{http.StatusOK, map[string]any{"sessions": out}}, nil
}

type createSessionRequest struct {
	Kind    string `json:"kind" validate:"required,oneof=instant primetime"`
	Title   string `json:"title" validate:"required,notblank,printable,max=120"`
	GroupID string `json:"groupId" validate:"max=64"`
}

func (h *Handler) createSession(ctx context.Context, r *request) (response, error) {
	if err := h.authenticate(r, auth.RoleUser); err != nil {
		return response{}, err
	}
	var req createSessionRequest
	if err := h.decode(r.body, &req); err != nil {
		return response{}, err
	}
	s, err := domain.NewHostedSession(domain.Kind(req.Kind), r.claims.UserID(), strings.TrimSpace(req.Title), req.GroupID, h.clock.Now())
	if err != nil {
		return response{}, err
	}
	// A PrimeTime session inside a group: a member starts it and hosts
	// it, and it shows in the group's chat as a card.
	var host domain.GroupMember
	if s.GroupID != "" {
		if s.Kind != domain.KindPrimetime {
			return response{}, invalidField("groupId", "only a primetime session is started inside a group")
		}
		if _, err := h.store.GetGroup(ctx, domain.GroupID(s.GroupID)); errors.Is(err, store.ErrNotFound) {
			return response{}, notFound("group")
		} else if err != nil {
			return response{}, err
		}
		if host, err = h.groupMember(ctx, domain.GroupID(s.GroupID), s.HostID); err != nil {
			return response{}, err
		}
	}
	if err := h.store.CreateSession(ctx, s); err != nil {
		return response{}, err
	}
	if s.GroupID != "" {
		if err := h.postSessionCard(ctx, s, host); err != nil {
			return response{}, err
		}
	}
	h.fileSession(ctx, s.HostID, s)
	share := h.shareBase(r) + "/s/" + string(s.ID)
	return response{http.StatusCreated, map[string]any{"session": viewSession(s), "shareUrl": share}}, nil
}

// session reads the session's own item (no members).
func (h *Handler) session(ctx context.Context, r *request) (domain.Session, error) {
	s, err := h.store.ReadSession(ctx, domain.SessionID(r.params["sessionId"]), store.Load{})
	if errors.Is(err, store.ErrNotFound) {
		return s, notFound("session")
	}
	return s, err
}

func (h *Handler) getSession(ctx context.Context, r *request) (response, error) {
	s, err := h.session(ctx, r)
	if err != nil {
		return response{}, err
	}
	return response{http.StatusOK, map[string]any{"session": viewSession(s)}}, nil
}

// over is the 410 for a session that can no longer be joined.
func over(s domain.Session) *Error {
	if s.Status == domain.StatusExpired {
		return newError(http.StatusGone, CodeSessionExpired, "this session expired before it started")
	}
	return newError(http.StatusGone, CodeSessionEnded, "this session has ended")
}

func (h *Handler) register(ctx context.Context, r *request) (response, error) {
	if err := h.authenticate(r, auth.RoleUser); err != nil {
		return response{}, err
	}
	s, err := h.session(ctx, r)
	if err != nil {
		return response{}, err
	}
	reg, created, err := h.store.Register(ctx, domain.Registration{SessionID: s.ID, UserID: r.claims.UserID(), CreatedAt: h.clock.Now()})
	switch {
	case errors.Is(err, store.ErrSessionOver):
		if fresh, gerr := h.store.ReadSession(ctx, s.ID, store.Load{}); gerr == nil {
			s = fresh
		}
		return response{}, over(s)
	case err != nil:
		return response{}, err
	case created:
		return response{http.StatusCreated, reg}, nil
	default:
		return response{http.StatusOK, reg}, nil
	}
}

func (h *Handler) cancelRegistration(ctx context.Context, r *request) (response, error) {
	if err := h.authenticate(r, auth.RoleUser); err != nil {
		return response{}, err
	}
	s, err := h.session(ctx, r)
	if err != nil {
		return response{}, err
	}
	if err := h.store.CancelRegistration(ctx, s.ID, r.claims.UserID()); errors.Is(err, store.ErrNotFound) {
		return response{}, notFound("registration")
	} else if err != nil {
		return response{}, err
	}
	return response{http.StatusNoContent, nil}, nil
}

func ptr[T any](v T) *T { return &v }
