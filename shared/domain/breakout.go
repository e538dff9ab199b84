package domain

import "time"

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
	Warned bool           `json:"warned,omitempty"`
}
