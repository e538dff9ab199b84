package boltstore

import (
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// CreateUser stores a new user; store.ErrExists if the id is taken.
func (db *DB) CreateUser(ctx context.Context, u domain.User) error {
	err := db.update(ctx, func(tx *bolt.Tx) error {
		return create(tx, bucketUsers, []byte(u.ID), u)
	})
	if err != nil {
		return fmt.Errorf("boltstore: create user %s: %w", u.ID, err)
	}
	return nil
}

// GetUser returns a user or store.ErrNotFound.
func (db *DB) GetUser(ctx context.Context, id domain.UserID) (domain.User, error) {
	var u domain.User
	err := db.view(ctx, func(tx *bolt.Tx) error {
		return get(tx, bucketUsers, []byte(id), &u)
	})
	if err != nil {
		return domain.User{}, fmt.Errorf("boltstore: get user %s: %w", id, err)
	}
	return u, nil
}

// CreateOrganizer stores a new organizer; store.ErrExists if the id is
// taken.
func (db *DB) CreateOrganizer(ctx context.Context, o domain.Organizer) error {
	err := db.update(ctx, func(tx *bolt.Tx) error {
		return create(tx, bucketOrganizers, []byte(o.ID), o)
	})
	if err != nil {
		return fmt.Errorf("boltstore: create organizer %s: %w", o.ID, err)
	}
	return nil
}

// CreateEvent stores a new event with no sessions booked; store.ErrExists
// if the id is taken.
func (db *DB) CreateEvent(ctx context.Context, e domain.Event) error {
	e.SessionsBooked = 0
	err := db.update(ctx, func(tx *bolt.Tx) error {
		return create(tx, bucketEvents, []byte(e.ID), e)
	})
	if err != nil {
		return fmt.Errorf("boltstore: create event %s: %w", e.ID, err)
	}
	return nil
}

// GetEvent returns an event with its current SessionsBooked, or
// store.ErrNotFound.
func (db *DB) GetEvent(ctx context.Context, id domain.EventID) (domain.Event, error) {
	var e domain.Event
	err := db.view(ctx, func(tx *bolt.Tx) error {
		return get(tx, bucketEvents, []byte(id), &e)
	})
	if err != nil {
		return domain.Event{}, fmt.Errorf("boltstore: get event %s: %w", id, err)
	}
	return e, nil
}

// CreateEmployer stores a new employer of an existing event with no
// sessions booked: store.ErrNotFound if the event does not exist,
// store.ErrExists if the event has an employer with that id.
func (db *DB) CreateEmployer(ctx context.Context, e domain.Employer) error {
	e.SessionsBooked = 0
	err := db.update(ctx, func(tx *bolt.Tx) error {
		if !exists(tx, bucketEvents, []byte(e.EventID)) {
			return fmt.Errorf("event %s: %w", e.EventID, store.ErrNotFound)
		}
		return create(tx, bucketEmployers, employerKey(e.EventID, e.ID), e)
	})
	if err != nil {
		return fmt.Errorf("boltstore: create employer %s: %w", e.ID, err)
	}
	return nil
}

// GetEmployer returns an employer of an event, or store.ErrNotFound.
func (db *DB) GetEmployer(ctx context.Context, event domain.EventID, id domain.EmployerID) (domain.Employer, error) {
	var e domain.Employer
	err := db.view(ctx, func(tx *bolt.Tx) error {
		return get(tx, bucketEmployers, employerKey(event, id), &e)
	})
	if err != nil {
		return domain.Employer{}, fmt.Errorf("boltstore: get employer %s of event %s: %w", id, event, err)
	}
	return e, nil
}
