// Package store defines what Greenroom keeps and the rules the keeping
// enforces. Two implementations pass one contract suite (storetest): a
// DynamoDB one for AWS and an embedded one for the local runner.
//
// Every limit is enforced inside the store atomically (a conditional
// write or a transaction in DynamoDB, one write transaction in the
// embedded database), never by reading first and writing after.
package store

import (
	"context"
	"time"

	"github.com/greenroom-live/greenroom/shared/domain"
)

// Store is what the HTTP API, the WebSocket handlers and the scheduler
// need from storage.
type Store interface {
	// CreateUser stores a new user; ErrExists if the id is taken.
	CreateUser(ctx context.Context, u domain.User) error
	// GetUser returns a user or ErrNotFound.
	GetUser(ctx context.Context, id domain.UserID) (domain.User, error)

	// CreateOrganizer stores a new organizer; ErrExists if the id is taken.
	CreateOrganizer(ctx context.Context, o domain.Organizer) error

	// CreateEvent stores a new event (SessionsBooked 0); ErrExists if the
	// id is taken.
	CreateEvent(ctx context.Context, e domain.Event) error
	// GetEvent returns an event with its current SessionsBooked, or
	// ErrNotFound.
	GetEvent(ctx context.Context, id domain.EventID) (domain.Event, error)

	// CreateEmployer stores a new employer of an existing event
	// (ErrNotFound if the event does not exist, ErrExists if the id is
	// taken).
	CreateEmployer(ctx context.Context, e domain.Employer) error
	// GetEmployer returns an employer of an event, or ErrNotFound.
	GetEmployer(ctx context.Context, event domain.EventID, id domain.EmployerID) (domain.Employer, error)

	// BookSession stores a scheduled session in its event's slot, all or
	// nothing: the employer's count stays within MaxSessionsPerEmployer
	// (else ErrEmployerLimit), the event's within MaxSessions (else
	// ErrEventLimit), and the slot's within SessionsPerSlot (else
	// ErrSlotFull); when several limits are reached, the first of that
	// order is returned. lim carries the event's limits. ErrNotFound if
	// the event or the employer does not exist.
	BookSession(ctx context.Context, s domain.Session, lim BookingLimits) error
	// CreateSession stores an instant or primetime session; ErrExists if
	// the id is taken.
	CreateSession(ctx context.Context, s domain.Session) error
	// GetSession returns a session with its current Registered count, or
	// ErrNotFound.
	GetSession(ctx context.Context, id domain.SessionID) (domain.Session, error)
	// ListEventSessions returns an event's sessions ordered by start, then
	// id, each with its current Registered count. It reflects every
	// booking and registration that has returned.
	ListEventSessions(ctx context.Context, event domain.EventID) ([]domain.Session, error)
	// SlotUsage returns how many sessions are booked in each slot of an
	// event, keyed by the slot's start in UTC (slots with none are
	// absent).
	SlotUsage(ctx context.Context, event domain.EventID) (map[time.Time]int, error)

	// Register holds a spot for r.UserID in r.SessionID. The first time it
	// returns r and created=true. A repeat returns the stored registration
	// and created=false and counts once. ErrSessionFull when the session
	// holds Capacity registrations, ErrSessionOver when it has ended or
	// expired, ErrNotFound when it does not exist.
	Register(ctx context.Context, r domain.Registration) (reg domain.Registration, created bool, err error)
	// GetRegistration returns a user's registration, or ErrNotFound.
	GetRegistration(ctx context.Context, session domain.SessionID, user domain.UserID) (domain.Registration, error)
	// CancelRegistration removes a user's registration and frees its
	// spot; ErrNotFound when there is none.
	CancelRegistration(ctx context.Context, session domain.SessionID, user domain.UserID) error
}

// BookingLimits are the limits BookSession enforces, taken from the event.
type BookingLimits struct {
	MaxSessionsPerEmployer int
	MaxSessions            int
	SessionsPerSlot        int
}

// LimitsOf returns the booking limits of an event.
func LimitsOf(e domain.Event) BookingLimits {
	return BookingLimits{
		MaxSessionsPerEmployer: e.MaxSessionsPerEmployer,
		MaxSessions:            e.MaxSessions,
		SessionsPerSlot:        e.SessionsPerSlot,
	}
}
