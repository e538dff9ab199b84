package domain

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Limits of breakout rooms (seed 001).
const (
	MaxBreakoutRooms   = 10
	MaxBreakoutNameLen = 30
	MaxBreakoutMinutes = 240
	// BreakoutWarning is how long before the timer ends the closing
	// warning comes, unless the timer says otherwise (at most
	// MaxBreakoutWarning).
	BreakoutWarning     = time.Minute
	MaxBreakoutWarning  = 30 * time.Minute
	maxBreakoutAssigned = 500
)

// BreakoutStatus is where a session's breakout rooms are.
type BreakoutStatus string

const (
	BreakoutNone       BreakoutStatus = "none"
	BreakoutConfigured BreakoutStatus = "configured"
	BreakoutOpen       BreakoutStatus = "open"
)

// BreakoutRoom is one room by index and name.
type BreakoutRoom struct {
	Index int    `json:"index"`
	Name  string `json:"name"`
}

// Breakout is a session's breakout rooms: their names, who is assigned
// where, and, while open, when they close.
type Breakout struct {
	Status BreakoutStatus `json:"status"`
	Rooms  []BreakoutRoom `json:"rooms,omitempty"`
	Assign map[UserID]int `json:"assign,omitempty"`
	EndsAt *time.Time     `json:"endsAt,omitempty"`
	// WarnBefore is how long before EndsAt the closing warning comes
	// (BreakoutWarning when zero).
	WarnBefore time.Duration `json:"warnBefore,omitempty"`
	Warned     bool          `json:"warned,omitempty"`
}

// warning is how long before the end the closing warning comes.
func (b Breakout) warning() time.Duration {
	if b.WarnBefore > 0 {
		return b.WarnBefore
	}
	return BreakoutWarning
}

// BreakoutConfig is a configure request: room names, placements by hand,
// and whether to place everyone else automatically.
type BreakoutConfig struct {
	Rooms  []string
	Assign map[UserID]int
	Auto   bool
}

// ConfigureBreakout sets the rooms and who goes where (a host or
// speaker), before or while they are open. Names are 1–30 characters
// (counted as characters, not bytes) and unique regardless of case; at
// most 10 rooms. Automatic assignment places the participants not placed
// by hand so that room sizes differ by at most one; hosts and speakers
// stay unassigned unless placed by hand. While rooms are open, members
// follow their new assignment at once.
func (s *Session) ConfigureBreakout(actor UserID, cfg BreakoutConfig) ([]Change, error) {
	if _, err := s.moderating(actor); err != nil {
		return nil, err
	}
	rooms, err := s.validateBreakout(cfg)
	if err != nil {
		return nil, err
	}
	if s.Live.Partial && (cfg.Auto || s.Live.Breakout.Status == BreakoutOpen) {
		return nil, ErrPartial
	}
	assign := make(map[UserID]int, len(cfg.Assign))
	for u, i := range cfg.Assign {
		assign[u] = i
	}
	if cfg.Auto {
		autoAssign(s.autoCandidates(assign), assign, len(rooms))
	}
	b := &s.Live.Breakout
	b.Rooms, b.Assign = rooms, assign
	if b.Status != BreakoutOpen {
		b.Status = BreakoutConfigured
	}
	changes := []Change{{Event: "breakout.configured", UserID: actor}}
	if b.Status == BreakoutOpen {
		changes = append(changes, s.placeAll()...)
	}
	return changes, nil
}

func (s *Session) validateBreakout(cfg BreakoutConfig) ([]BreakoutRoom, error) {
	f := FieldErrors{}
	if len(cfg.Rooms) < 1 || len(cfg.Rooms) > MaxBreakoutRooms {
		f["rooms"] = fmt.Sprintf("must hold 1 to %d rooms", MaxBreakoutRooms)
	}
	seen := map[string]int{}
	rooms := make([]BreakoutRoom, 0, len(cfg.Rooms))
	for i, name := range cfg.Rooms {
		name = strings.TrimSpace(name)
		key := fmt.Sprintf("rooms[%d].name", i)
		if n := RuneLen(name); n < 1 || !TextFits(name, MaxBreakoutNameLen, MaxBreakoutNameBytes) {
			f[key] = fmt.Sprintf("must be 1 to %d characters", MaxBreakoutNameLen)
		} else if j, dup := seen[strings.ToLower(name)]; dup {
			f[key] = fmt.Sprintf("duplicates the name of room %d", j)
		}
		seen[strings.ToLower(name)] = i
		rooms = append(rooms, BreakoutRoom{Index: i, Name: name})
	}
	if len(cfg.Assign) > maxBreakoutAssigned {
		f["assign"] = "names too many members"
	}
	for u, idx := range cfg.Assign {
		key := "assign." + string(u)
		if m := s.member(u); m == nil || m.Removed {
			f[key] = "is not a member of this session"
		} else if idx < 0 || idx >= len(cfg.Rooms) {
			f[key] = "is not the index of a room"
		}
	}
	if len(f) > 0 {
		return nil, f
	}
	return rooms, nil
}

// autoCandidates are the participants to place automatically: present,
// not placed by hand, in a stable order (by id).
func (s *Session) autoCandidates(placed map[UserID]int) []UserID {
	var out []UserID
	for _, m := range s.Live.Members {
		if m.Removed || m.Role != RoleParticipant || !m.Connected {
			continue
		}
		if _, ok := placed[m.UserID]; ok {
			continue
		}
		out = append(out, m.UserID)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// autoAssign places users one by one into the smallest room (lowest index
// on ties), counting those already placed, so sizes differ by at most one
// among the rooms it fills. The same input always gives the same result.
func autoAssign(users []UserID, assign map[UserID]int, rooms int) {
	if rooms == 0 {
		return
	}
	size := make([]int, rooms)
	for _, i := range assign {
		if i >= 0 && i < rooms {
			size[i]++
		}
	}
	for _, u := range users {
		best := 0
		for i := 1; i < rooms; i++ {
			if size[i] < size[best] {
				best = i
			}
		}
		assign[u] = best
		size[best]++
	}
}

// placeAll puts every member where the assignment says (open rooms), or
// back in the main room, and reports who moved.
func (s *Session) placeAll() []Change {
	var changes []Change
	open := s.Live.Breakout.Status == BreakoutOpen
	for i := range s.Live.Members {
		m := &s.Live.Members[i]
		var want *int
		if idx, ok := s.Live.Breakout.Assign[m.UserID]; ok && open && !m.Removed {
			v := idx
			want = &v
		}
		if sameRoom(m.Room, want) {
			continue
		}
		m.Room = want
		changes = append(changes, Change{Event: "breakout.moved", UserID: m.UserID, Data: map[string]any{"to": roomValue(want)}})
	}
	return changes
}

func sameRoom(a, b *int) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

func roomValue(r *int) any {
	if r == nil {
		return nil
	}
	return *r
}

// OpenBreakout opens the configured rooms: every assigned member's media,
// chat and hand queue move into its room; the unassigned stay in the main
// room.
func (s *Session) OpenBreakout(actor UserID, now time.Time) ([]Change, error) {
	if _, err := s.moderating(actor); err != nil {
		return nil, err
	}
	if s.Live.Partial {
		return nil, ErrPartial
	}
	switch s.Live.Breakout.Status {
	case BreakoutOpen:
		return nil, ErrNoChange
	case BreakoutConfigured:
	default:
		return nil, ErrConflict
	}
	s.Live.Breakout.Status = BreakoutOpen
	s.Live.Breakout.Warned = false
	changes := []Change{{Event: "breakout.opened", UserID: actor}}
	return append(changes, s.placeAll()...), nil
}

// CloseBreakout returns everyone to the main room, its stage and its
// chat. Closing closed rooms changes nothing.
func (s *Session) CloseBreakout(actor UserID, now time.Time) ([]Change, error) {
	if _, err := s.moderating(actor); err != nil {
		return nil, err
	}
	if s.Live.Breakout.Status != BreakoutOpen {
		return nil, ErrNoChange
	}
	if s.Live.Partial {
		return nil, ErrPartial
	}
	return s.closeBreakout("breakout.closed"), nil
}

func (s *Session) closeBreakout(event string) []Change {
	s.Live.Breakout.Status = BreakoutConfigured
	s.Live.Breakout.EndsAt = nil
	s.Live.Breakout.Warned = false
	return append([]Change{{Event: event}}, s.placeAll()...)
}

// MoveToRoom moves target into a breakout room (nil: the main room) while
// rooms are open; its media follows. Hosts and speakers may move
// themselves to visit any room.
func (s *Session) MoveToRoom(actor, target UserID, room *int) ([]Change, error) {
	if _, err := s.moderating(actor); err != nil {
		return nil, err
	}
	t, err := s.actor(target)
	if err != nil {
		return nil, err
	}
	b := &s.Live.Breakout
	if b.Status != BreakoutOpen {
		return nil, ErrConflict
	}
	if room != nil && (*room < 0 || *room >= len(b.Rooms)) {
		return nil, FieldErrors{"room": "is not the index of a room"}
	}
	if sameRoom(t.Room, room) {
		return nil, ErrNoChange
	}
	if b.Assign == nil {
		b.Assign = map[UserID]int{}
	}
	if room == nil {
		delete(b.Assign, target)
		t.Room = nil
	} else {
		v := *room
		b.Assign[target] = v
		t.Room = &v
	}
	return []Change{{Event: "breakout.moved", UserID: target, Data: map[string]any{"to": roomValue(t.Room)}}}, nil
}

// SetBreakoutTimer sets the rooms to close minutes from now, or extends
// the end already set by minutes. warn, when not zero, is how long before
// the end members are warned.
func (s *Session) SetBreakoutTimer(actor UserID, minutes int, warn time.Duration, now time.Time) ([]Change, error) {
	if _, err := s.moderating(actor); err != nil {
		return nil, err
	}
	if minutes < 1 || minutes > MaxBreakoutMinutes {
		return nil, FieldErrors{"minutes": fmt.Sprintf("must be 1 to %d", MaxBreakoutMinutes)}
	}
	if warn < 0 || warn > MaxBreakoutWarning {
		return nil, FieldErrors{"warnSeconds": fmt.Sprintf("must be 0 to %d", int(MaxBreakoutWarning.Seconds()))}
	}
	b := &s.Live.Breakout
	if b.Status != BreakoutOpen {
		return nil, ErrConflict
	}
	end := now
	if b.EndsAt != nil && b.EndsAt.After(now) {
		end = *b.EndsAt
	}
	end = end.Add(time.Duration(minutes) * time.Minute)
	b.EndsAt, b.Warned = &end, false
	if warn > 0 {
		b.WarnBefore = warn
	}
	return []Change{{Event: "breakout.timer", UserID: actor, Data: map[string]any{"endsAt": end, "warnSeconds": int(b.warning().Seconds())}}}, nil
}

// tickBreakout warns BreakoutWarning before the timer ends and closes the
// rooms when it does.
func (s *Session) tickBreakout(now time.Time) []Change {
	b := &s.Live.Breakout
	if b.Status != BreakoutOpen || b.EndsAt == nil {
		return nil
	}
	if !now.Before(*b.EndsAt) {
		return s.closeBreakout("breakout.closed")
	}
	if !b.Warned && !now.Before(b.EndsAt.Add(-b.warning())) {
		b.Warned = true
		return []Change{{Event: "breakout.closing", Data: map[string]any{"endsAt": *b.EndsAt}}}
	}
	return nil
}

// breakoutDue is when tickBreakout next has something to do.
func (s *Session) breakoutDue() time.Time {
	b := s.Live.Breakout
	if b.Status != BreakoutOpen || b.EndsAt == nil {
		return time.Time{}
	}
	if !b.Warned {
		return b.EndsAt.Add(-b.warning())
	}
	return *b.EndsAt
}

// Publishers returns the members whose media is forwarded: on the main
// stage, members on stage in the main room; in an open breakout room, the
// room's members (a small group talks), up to the stage limits in the
// order they joined.
func (s *Session) Publishers() map[UserID]bool {
	out := map[UserID]bool{}
	perRoom := map[int]int{}
	limit := s.Stage.MaxSpeakers + s.Stage.MaxParticipants
	open := s.Live.Breakout.Status == BreakoutOpen
	for _, m := range s.Live.Members {
		if m.Removed || !m.Connected {
			continue
		}
		if m.Room == nil || !open {
			if m.OnStage {
				out[m.UserID] = true
			}
			continue
		}
		if perRoom[*m.Room] < limit {
			perRoom[*m.Room]++
			out[m.UserID] = true
		}
	}
	return out
}
