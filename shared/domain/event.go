package domain

import (
	"fmt"
	"slices"
	"sort"
	"time"
)

// Limits from the product pages (seed 001) and the contract.
const (
	// MaxCapacity is the most members a scheduled or instant session may
	// hold (seed 001: "up to 50 participants").
	MaxCapacity = 50
	// PrimetimeCapacity is the most members a PrimeTime session holds:
	// it lives inside a group's chat, where everyone watches and only
	// the host and approved speakers are on screen (seed 002).
	PrimetimeCapacity = 200
	// MaxSpeakers is the most employees/speakers on screen at once.
	MaxSpeakers = 4
	// MaxStageParticipants is the most participants on screen at once.
	MaxStageParticipants = 6

	// MaxWindows bounds the windows of one event.
	MaxWindows = 20
	// MinSlotMinutes and MaxSlotMinutes bound a slot's length.
	MinSlotMinutes = 5
	MaxSlotMinutes = 480
	// MaxSlots bounds the slot grid of one event, so that listing slots
	// stays cheap.
	MaxSlots = 2000
	// MaxSessionsLimit bounds the per-event and per-employer limits.
	MaxSessionsLimit = 10000

	// MaxNameLen bounds names of users, organizers and employers;
	// MaxTitleLen bounds titles and event names (both in characters).
	MaxNameLen  = 64
	MaxTitleLen = 120
)

// Window is a time range [Start, End) in which slots may be booked.
type Window struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// StageLimits says how many speakers and approved participants may be on
// screen at once.
type StageLimits struct {
	MaxSpeakers     int `json:"maxSpeakers"`
	MaxParticipants int `json:"maxParticipants"`
}

// DefaultStage is the stage of seed 001: four speakers, six participants.
var DefaultStage = StageLimits{MaxSpeakers: MaxSpeakers, MaxParticipants: MaxStageParticipants}

// Event is an organizer's event: windows of time cut into slots that
// employers book for their sessions.
type Event struct {
	ID                     EventID     `json:"id"`
	OrganizerID            OrganizerID `json:"organizerId"`
	Name                   string      `json:"name"`
	Windows                []Window    `json:"windows"`
	SlotMinutes            int         `json:"slotMinutes"`
	Capacity               int         `json:"capacity"`
	MaxSessionsPerEmployer int         `json:"maxSessionsPerEmployer"`
	MaxSessions            int         `json:"maxSessions"`
	SessionsPerSlot        int         `json:"sessionsPerSlot"`
	Stage                  StageLimits `json:"stage"`
	// Defaulted names the limits the organizer did not set
	// (LimitMaxSessions, LimitMaxSessionsPerEmployer,
	// LimitSessionsPerSlot): Normalize gives them an internal default
	// that the store enforces and that is never shown to people.
	Defaulted []string `json:"defaulted,omitempty"`
	// SessionsBooked counts the sessions booked in the event; the store
	// keeps it and never lets it pass MaxSessions.
	SessionsBooked int       `json:"sessionsBooked"`
	CreatedAt      time.Time `json:"createdAt"`
}

// SlotLength is the length of one slot.
func (e Event) SlotLength() time.Duration { return time.Duration(e.SlotMinutes) * time.Minute }

// Normalize fills defaults (capacity 50; no event limit beyond
// MaxSessionsLimit; per employer and per slot up to the event total; the
// default stage), puts the times in UTC and sorts the windows. Call it
// before Validate.
func (e *Event) Normalize() {
	if e.Capacity == 0 {
		e.Capacity = MaxCapacity
	}
	if e.MaxSessions == 0 {
		e.MaxSessions = MaxSessionsLimit
		e.defaulted(LimitMaxSessions)
	}
	if e.MaxSessionsPerEmployer == 0 {
		e.MaxSessionsPerEmployer = e.MaxSessions
		e.defaulted(LimitMaxSessionsPerEmployer)
	}
	if e.SessionsPerSlot == 0 {
		e.SessionsPerSlot = e.MaxSessions
		e.defaulted(LimitSessionsPerSlot)
	}
	if e.Stage.MaxSpeakers == 0 && e.Stage.MaxParticipants == 0 {
		e.Stage = DefaultStage
	}
	for i := range e.Windows {
		e.Windows[i].Start = e.Windows[i].Start.UTC()
		e.Windows[i].End = e.Windows[i].End.UTC()
	}
	sort.Slice(e.Windows, func(i, j int) bool { return e.Windows[i].Start.Before(e.Windows[j].Start) })
}

// The limits an organizer may leave unset, by their JSON names.
const (
	LimitMaxSessions            = "maxSessions"
	LimitMaxSessionsPerEmployer = "maxSessionsPerEmployer"
	LimitSessionsPerSlot        = "sessionsPerSlot"
)

func (e *Event) defaulted(name string) {
	if !slices.Contains(e.Defaulted, name) {
		e.Defaulted = append(e.Defaulted, name)
	}
}

// LimitSet reports whether the organizer set the limit name. A limit at
// MaxSessionsLimit is no limit either (events stored before Defaulted
// was kept say so).
func (e Event) LimitSet(name string) bool {
	if slices.Contains(e.Defaulted, name) {
		return false
	}
	switch name {
	case LimitMaxSessions:
		return e.MaxSessions < MaxSessionsLimit
	case LimitMaxSessionsPerEmployer:
		return e.MaxSessionsPerEmployer < MaxSessionsLimit
	case LimitSessionsPerSlot:
		return e.SessionsPerSlot < MaxSessionsLimit
	}
	return true
}

// Validate checks the event's rules and names every bad field with the
// contract's JSON path (for example `windows[1].end`).
func (e Event) Validate() error {
	f := FieldErrors{}
	if n := RuneLen(e.Name); n < 1 || n > MaxTitleLen {
		f["name"] = fmt.Sprintf("must be 1 to %d characters", MaxTitleLen)
	}
	if e.SlotMinutes < MinSlotMinutes || e.SlotMinutes > MaxSlotMinutes {
		f["slotMinutes"] = fmt.Sprintf("must be %d to %d", MinSlotMinutes, MaxSlotMinutes)
	}
	if e.Capacity < 1 || e.Capacity > MaxCapacity {
		f["capacity"] = fmt.Sprintf("must be 1 to %d", MaxCapacity)
	}
	if e.MaxSessions < 1 || e.MaxSessions > MaxSessionsLimit {
		f["maxSessions"] = fmt.Sprintf("must be 1 to %d", MaxSessionsLimit)
	}
	if e.MaxSessionsPerEmployer < 1 || e.MaxSessionsPerEmployer > MaxSessionsLimit {
		f["maxSessionsPerEmployer"] = fmt.Sprintf("must be 1 to %d", MaxSessionsLimit)
	} else if e.MaxSessions >= 1 && e.MaxSessionsPerEmployer > e.MaxSessions {
		f["maxSessionsPerEmployer"] = "must not exceed maxSessions"
	}
	if e.SessionsPerSlot < 1 || e.SessionsPerSlot > MaxSessionsLimit {
		f["sessionsPerSlot"] = fmt.Sprintf("must be 1 to %d", MaxSessionsLimit)
	}
	if e.Stage.MaxSpeakers < 1 || e.Stage.MaxSpeakers > MaxSpeakers {
		f["stage.maxSpeakers"] = fmt.Sprintf("must be 1 to %d", MaxSpeakers)
	}
	if e.Stage.MaxParticipants < 0 || e.Stage.MaxParticipants > MaxStageParticipants {
		f["stage.maxParticipants"] = fmt.Sprintf("must be 0 to %d", MaxStageParticipants)
	}
	switch {
	case len(e.Windows) == 0:
		f["windows"] = "must hold at least one window"
	case len(e.Windows) > MaxWindows:
		f["windows"] = fmt.Sprintf("must hold at most %d windows", MaxWindows)
	default:
		e.validateWindows(f)
	}
	return f.orNil()
}

func (e Event) validateWindows(f FieldErrors) {
	slot := e.SlotLength()
	before := len(f)
	for i, w := range e.Windows {
		key := fmt.Sprintf("windows[%d]", i)
		switch {
		case w.Start.IsZero():
			f[key+".start"] = "is required (RFC 3339)"
		case w.End.IsZero():
			f[key+".end"] = "is required (RFC 3339)"
		case !w.End.After(w.Start):
			f[key+".end"] = "must be after start"
		case slot > 0 && w.End.Sub(w.Start) < slot:
			f[key+".end"] = "window must hold at least one slot"
		case i > 0 && w.Start.Before(e.Windows[i-1].End):
			f[key+".start"] = "windows must not overlap"
		}
	}
	// Count the slots only when the windows and the slot length are
	// sound, but whatever other fields are bad, so that every bad field
	// is named.
	_, badSlot := f["slotMinutes"]
	if len(f) == before && !badSlot && slot > 0 && len(e.Slots()) > MaxSlots {
		f["windows"] = fmt.Sprintf("must hold at most %d slots", MaxSlots)
	}
}

// Slot is one bookable time range of an event.
type Slot struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Slots returns the slot grid: each window cut into back-to-back slots
// from its start, dropping a tail shorter than a slot. It stops at
// MaxSlots+1 so that a huge window cannot make it loop for long.
func (e Event) Slots() []Slot {
	slot := e.SlotLength()
	if slot <= 0 {
		return nil
	}
	var out []Slot
	for _, w := range e.Windows {
		for t := w.Start; !t.Add(slot).After(w.End); t = t.Add(slot) {
			out = append(out, Slot{Start: t, End: t.Add(slot)})
			if len(out) > MaxSlots {
				return out
			}
		}
	}
	return out
}

// SlotAt returns the slot that starts at t, or ErrOffGrid.
func (e Event) SlotAt(t time.Time) (Slot, error) {
	slot := e.SlotLength()
	if slot <= 0 {
		return Slot{}, ErrOffGrid
	}
	t = t.UTC()
	for _, w := range e.Windows {
		if t.Before(w.Start) || t.Add(slot).After(w.End) {
			continue
		}
		if t.Sub(w.Start)%slot == 0 {
			return Slot{Start: t, End: t.Add(slot)}, nil
		}
	}
	return Slot{}, ErrOffGrid
}
