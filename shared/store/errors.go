package store

import "errors"

var (
	// ErrNotFound is returned when the item asked for does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrExists is returned by a create when an item with that id exists.
	ErrExists = errors.New("store: already exists")
	// ErrSessionFull is returned by Register when the session holds as
	// many registrations as its capacity.
	ErrSessionFull = errors.New("store: session full")
	// ErrSessionOver is returned by Register when the session has ended
	// or expired.
	ErrSessionOver = errors.New("store: session ended")
	// ErrEmployerLimit is returned by BookSession when the employer holds
	// as many sessions as the event allows one employer.
	ErrEmployerLimit = errors.New("store: employer session limit reached")
	// ErrEventLimit is returned by BookSession when the event holds as
	// many sessions as it allows in total.
	ErrEventLimit = errors.New("store: event session limit reached")
	// ErrContention is returned by Update when what it read kept changing
	// under it for every one of its attempts.
	ErrContention = errors.New("store: too many concurrent changes")
	// ErrStale is returned by SetLimit when the limiter is no longer what
	// the caller read.
	ErrStale = errors.New("store: changed since read")
	// ErrTooLarge is returned by Update when fn changed more items than
	// one atomic write takes.
	ErrTooLarge = errors.New("store: too many items changed at once")
	// ErrSpeakersFull is returned by AddSpeaker when the session names as
	// many speakers as its stage seats.
	ErrSpeakersFull = errors.New("store: speakers full")
	// ErrNotSpeaker is returned by RemoveSpeaker when the session does
	// not name the user a speaker.
	ErrNotSpeaker = errors.New("store: not a speaker")
	// ErrGroupFull is returned by AddGroupMember when the group holds as
	// many members as it may.
	ErrGroupFull = errors.New("store: group full")
	// ErrGroupOwner is returned by RemoveGroupMember for the owner of a
	// group while other members remain.
	ErrGroupOwner = errors.New("store: the owner of a group with other members")
	// ErrSlotFull is returned by BookSession when the slot holds as many
	// concurrent sessions as the event allows.
	ErrSlotFull = errors.New("store: slot full")
)
