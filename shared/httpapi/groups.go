package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/greenroom-live/greenroom/shared/auth"
	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/groupfeed"
	"github.com/greenroom-live/greenroom/shared/store"
)

// Groups (seed 002): a user creates a group and is its owner; members
// join by an invite link; the group has its own chat, limited like the
// session chat; a member starts a PrimeTime session inside it (POST
// /v1/sessions with groupId), which shows in the chat as a card, and only
// members join it.

// groupChatHistory is how many messages GET .../messages returns: the
// newest, oldest first.
const groupChatHistory = 50

// maxGroupChatAttempts bounds the compare-and-swaps of one member's chat
// limiter while its other messages move it.
const maxGroupChatAttempts = 16

type createGroupRequest struct {
	Name string `json:"name" validate:"required,notblank,printable,max=120"`
}

type groupChatRequest struct {
	Text string `json:"text" validate:"required,notblank,max=1000,maxbytes=3000"`
}

func (h *Handler) group(ctx context.Context, r *request) (domain.Group, error) {
	g, err := h.store.GetGroup(ctx, domain.GroupID(r.params["groupId"]))
	if errors.Is(err, store.ErrNotFound) {
		return g, notFound("group")
	}
	return g, err
}

// groupMember checks that the caller is a member of group id: a clear
// forbidden otherwise.
func (h *Handler) groupMember(ctx context.Context, id domain.GroupID, u domain.UserID) (domain.GroupMember, error) {
	m, err := h.store.GetGroupMember(ctx, id, u)
	if errors.Is(err, store.ErrNotFound) {
		return m, newError(http.StatusForbidden, CodeForbidden, "only members of this group may do that; ask a member for an invite link")
	}
	return m, err
}

// memberOfPath authenticates a user and checks that it is a member of the
// group of the path.
func (h *Handler) memberOfPath(ctx context.Context, r *request) (domain.Group, domain.GroupMember, error) {
	if err := h.authenticate(r, auth.RoleUser); err != nil {
		return domain.Group{}, domain.GroupMember{}, err
	}
	g, err := h.group(ctx, r)
	if err != nil {
		return g, domain.GroupMember{}, err
	}
	m, err := h.groupMember(ctx, g.ID, r.claims.UserID())
	return g, m, err
}

func (h *Handler) displayName(r *request) string {
	if r.claims.Name != "" {
		return r.claims.Name
	}
	return r.claims.Subject()
}

func (h *Handler) createGroup(ctx context.Context, r *request) (response, error) {
	if err := h.authenticate(r, auth.RoleUser); err != nil {
		return response{}, err
	}
	var req createGroupRequest
	if err := h.decode(r.body, &req); err != nil {
		return response{}, err
	}
	g, owner, err := domain.NewGroup(r.claims.UserID(), h.displayName(r), req.Name, h.clock.Now())
	if err != nil {
		return response{}, err
	}
	if err := h.store.CreateGroup(ctx, g, owner); err != nil {
		return response{}, err
	}
	return response{http.StatusCreated, map[string]any{"group": g, "members": []groupMemberView{viewGroupMember(owner)}}}, nil
}

func (h *Handler) listGroups(ctx context.Context, r *request) (response, error) {
	if err := h.authenticate(r, auth.RoleUser); err != nil {
		return response{}, err
	}
	groups, err := h.store.ListUserGroups(ctx, r.claims.UserID())
	if err != nil {
		return response{}, err
	}
	return response{http.StatusOK, map[string]any{"groups": groups}}, nil
}

func (h *Handler) getGroup(ctx context.Context, r *request) (response, error) {
	g, _, err := h.memberOfPath(ctx, r)
	if err != nil {
		return response{}, err
	}
	members, err := h.store.ListGroupMembers(ctx, g.ID)
	if err != nil {
		return response{}, err
	}
	out := make([]groupMemberView, len(members))
	for i, m := range members {
		out[i] = viewGroupMember(m)
	}
	return response{http.StatusOK, map[string]any{"group": g, "members": out}}, nil
}

func (h *Handler) inviteToGroup(ctx context.Context, r *request) (response, error) {
	g, _, err := h.memberOfPath(ctx, r)
	if err != nil {
		return response{}, err
	}
	tok, err := h.tokens.Mint(string(g.ID), auth.Claims{Role: auth.RoleInvite, Group: g.ID})
	if err != nil {
		return response{}, err
	}
	link := h.shareBase(r) + "/g/" + string(g.ID) + "?invite=" + url.QueryEscape(tok)
	return response{http.StatusCreated, inviteView{Invite: tok, URL: link, ExpiresAt: h.clock.Now().Add(auth.InviteTTL)}}, nil
}

func (h *Handler) joinGroup(ctx context.Context, r *request) (response, error) {
	if err := h.authenticate(r, auth.RoleUser); err != nil {
		return response{}, err
	}
	var req inviteRedeemRequest
	if err := h.decode(r.body, &req); err != nil {
		return response{}, err
	}
	id := domain.GroupID(r.params["groupId"])
	c, err := h.tokens.Verify(req.Invite)
	if err != nil || c.Role != auth.RoleInvite || c.Group != id {
		return response{}, invalidField("invite", "is not a valid invite link of this group")
	}
	m := domain.GroupMember{GroupID: id, UserID: r.claims.UserID(), Name: h.displayName(r), Role: domain.GroupMemberRole, JoinedAt: h.clock.Now()}
	m, created, err := h.store.AddGroupMember(ctx, m, domain.MaxGroupMembers)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return response{}, notFound("group")
	case errors.Is(err, store.ErrGroupFull):
		return response{}, newError(http.StatusConflict, CodeGroupFull, fmt.Sprintf("the group holds as many members as it may (%d)", domain.MaxGroupMembers))
	case err != nil:
		return response{}, err
	}
	g, err := h.store.GetGroup(ctx, id)
	if err != nil {
		return response{}, err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return response{status, map[string]any{"group": g, "member": viewGroupMember(m)}}, nil
}

// leaveGroup takes the caller out of the group. The owner leaves only
// when it is the last member, which closes the group (its invite links
// stop working); while others remain it answers 409 conflict.
func (h *Handler) leaveGroup(ctx context.Context, r *request) (response, error) {
	g, m, err := h.memberOfPath(ctx, r)
	if err != nil {
		return response{}, err
	}
	return h.dropGroupMember(ctx, g, m.UserID)
}

// removeGroupMember takes another member out of the group (the owner
// only). From then on the removed member is a non-member: 403 on the
// chat, and on starting or joining the group's sessions.
func (h *Handler) removeGroupMember(ctx context.Context, r *request) (response, error) {
	g, m, err := h.memberOfPath(ctx, r)
	if err != nil {
		return response{}, err
	}
	if g.OwnerID != m.UserID {
		return response{}, newError(http.StatusForbidden, CodeForbidden, "only the owner of this group removes its members")
	}
	u := domain.UserID(r.params["userId"])
	if u == m.UserID {
		return response{}, newError(http.StatusConflict, CodeConflict, "the owner leaves a group with DELETE .../members/me, and only as its last member")
	}
	return h.dropGroupMember(ctx, g, u)
}

// dropGroupMember removes u from g and answers the group as it is now.
func (h *Handler) dropGroupMember(ctx context.Context, g domain.Group, u domain.UserID) (response, error) {
	err := h.store.RemoveGroupMember(ctx, g.ID, u)
	switch {
	case errors.Is(err, store.ErrGroupOwner):
		return response{}, newError(http.StatusConflict, CodeConflict, "the owner cannot leave while other members remain; remove them first")
	case errors.Is(err, store.ErrNotFound):
		return response{}, notFound("member")
	case err != nil:
		return response{}, err
	}
	// The live chat stops at once for a member who is gone: their group
	// sockets are forgotten, so the feed posts them nothing more.
	conns, err := h.store.ListGroupConnections(ctx, g.ID)
	if err != nil {
		return response{}, err
	}
	for _, c := range conns {
		if c.UserID != u {
			continue
		}
		if err := h.store.DeleteGroupConnection(ctx, g.ID, c.ID); err != nil {
			return response{}, err
		}
	}
	return response{http.StatusNoContent, nil}, nil
}

func (h *Handler) groupMessages(ctx context.Context, r *request) (response, error) {
	g, _, err := h.memberOfPath(ctx, r)
	if err != nil {
		return response{}, err
	}
	msgs, err := h.store.RecentGroupChat(ctx, g.ID, groupChatHistory)
	if err != nil {
		return response{}, err
	}
	// A card shows its session as it is now; each session is read once.
	sessions := map[domain.SessionID]*sessionCard{}
	out := make([]groupMessageView, len(msgs))
	for i, m := range msgs {
		out[i] = viewGroupMessage(m)
		if m.Kind != domain.GroupMessageSession {
			continue
		}
		card, ok := sessions[m.SessionID]
		if !ok {
			s, err := h.store.ReadSession(ctx, m.SessionID, store.Load{})
			switch {
			case err == nil:
				card = viewCard(s)
			case !errors.Is(err, store.ErrNotFound):
				return response{}, err
			}
			sessions[m.SessionID] = card
		}
		out[i].Session = card
	}
	return response{http.StatusOK, map[string]any{"messages": out}}, nil
}

func (h *Handler) postGroupMessage(ctx context.Context, r *request) (response, error) {
	g, m, err := h.memberOfPath(ctx, r)
	if err != nil {
		return response{}, err
	}
	var req groupChatRequest
	if err := h.decode(r.body, &req); err != nil {
		return response{}, err
	}
	if err := h.takeGroupChat(ctx, m); err != nil {
		return response{}, err
	}
	msg := store.GroupMessage{GroupID: g.ID, ID: domain.NewID(12), Kind: domain.GroupMessageText, UserID: m.UserID, Name: m.Name, Text: req.Text, At: h.clock.Now()}
	if err := h.store.AddGroupChat(ctx, msg); err != nil {
		return response{}, err
	}
	view := viewGroupMessage(msg)
	h.publishGroup(ctx, g.ID, view)
	return response{http.StatusCreated, view}, nil
}

// publishGroup posts a group.message event to the group's live chat
// sockets, when a feed is wired in.
func (h *Handler) publishGroup(ctx context.Context, g domain.GroupID, m groupMessageView) {
	if h.groups != nil {
		h.groups.Publish(ctx, g, m)
	}
}

// groupSocket mints a member's ticket to the group's live chat socket:
// a join token scoped to the group, for wsUrl?token=….
func (h *Handler) groupSocket(ctx context.Context, r *request) (response, error) {
	g, m, err := h.memberOfPath(ctx, r)
	if err != nil {
		return response{}, err
	}
	tok, err := h.tokens.Mint(string(m.UserID), auth.Claims{Role: auth.RoleJoin, Name: m.Name, Group: g.ID})
	if err != nil {
		return response{}, err
	}
	return response{http.StatusOK, map[string]any{"wsUrl": h.wsURL(r), "joinToken": tok}}, nil
}

// takeGroupChat spends one message of the member's chat limiter
// (domain.GroupChatRate), or answers 429 rate_limited with retryAfterMs.
func (h *Handler) takeGroupChat(ctx context.Context, m domain.GroupMember) error {
	for range maxGroupChatAttempts {
		next, ok, wait := domain.GroupChatRate.Take(m.ChatLimit, h.clock.Now())
		if !ok {
			e := newError(http.StatusTooManyRequests, CodeRateLimited, "you are sending messages too fast; wait a moment")
			e.RetryAfterMs = max(wait.Milliseconds(), 1)
			return e
		}
		err := h.store.SetGroupChatLimit(ctx, m.GroupID, m.UserID, m.ChatLimit, next)
		if !errors.Is(err, store.ErrStale) {
			return err
		}
		if m, err = h.store.GetGroupMember(ctx, m.GroupID, m.UserID); err != nil {
			return err
		}
	}
	return newError(http.StatusConflict, CodeConflict, "too many messages at once; try again")
}

// postSessionCard shows a PrimeTime session started in a group in the
// group's chat and posts it to the group's sockets. The card's id is its
// session's, so that the card the WebSocket handlers post when the session
// goes live or ends replaces it.
func (h *Handler) postSessionCard(ctx context.Context, s domain.Session, host domain.GroupMember) error {
	m := store.GroupMessage{
		GroupID: domain.GroupID(s.GroupID), ID: string(s.ID), Kind: domain.GroupMessageSession,
		UserID: host.UserID, Name: host.Name, SessionID: s.ID, At: h.clock.Now(),
	}
	if err := h.store.AddGroupChat(ctx, m); err != nil {
		return err
	}
	view := viewGroupMessage(m)
	view.Session = viewCard(s)
	h.publishGroup(ctx, m.GroupID, view)
	return nil
}

type groupMemberView struct {
	UserID   domain.UserID    `json:"userId"`
	Name     string           `json:"name"`
	Role     domain.GroupRole `json:"role"`
	JoinedAt time.Time        `json:"joinedAt"`
}

func viewGroupMember(m domain.GroupMember) groupMemberView {
	return groupMemberView{UserID: m.UserID, Name: m.Name, Role: m.Role, JoinedAt: m.JoinedAt}
}

// sessionCard and groupMessageView are the wire forms the group feed
// posts too.
type (
	sessionCard      = groupfeed.Card
	groupMessageView = groupfeed.Message
)

func viewCard(s domain.Session) *sessionCard { return groupfeed.CardOf(s) }

func viewGroupMessage(m store.GroupMessage) groupMessageView { return groupfeed.MessageOf(m) }
