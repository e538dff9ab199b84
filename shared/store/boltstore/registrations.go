package boltstore

import (
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// Register holds a spot for r.UserID in r.SessionID. The first time it
// returns r and created=true; a repeat returns the stored registration
// and created=false, even in a full session. store.ErrNotFound when the
// session does not exist, store.ErrSessionOver when it has ended or
// expired (checked before anything else), store.ErrSessionFull when it
// holds Capacity registrations.
func (db *DB) Register(ctx context.Context, r domain.Registration) (domain.Registration, bool, error) {
	var (
		out     domain.Registration
		created bool
	)
	err := db.update(ctx, func(tx *bolt.Tx) error {
		var s domain.Session
		if err := get(tx, bucketSessions, []byte(r.SessionID), &s); err != nil {
			return err
		}
		if s.Status.Over() {
			return store.ErrSessionOver
		}
		k := registrationKey(r.SessionID, r.UserID)
		if exists(tx, bucketRegistrations, k) {
			return get(tx, bucketRegistrations, k, &out)
		}
		if s.Registered >= s.Capacity {
			return store.ErrSessionFull
		}
		s.Registered++
		if err := put(tx, bucketSessions, []byte(s.ID), s); err != nil {
			return err
		}
		if err := put(tx, bucketRegistrations, k, r); err != nil {
			return err
		}
		out, created = r, true
		return nil
	})
	if err != nil {
		return domain.Registration{}, false, fmt.Errorf("boltstore: register %s in %s: %w", r.UserID, r.SessionID, err)
	}
	return out, created, nil
}

// GetRegistration returns a user's registration, or store.ErrNotFound.
func (db *DB) GetRegistration(ctx context.Context, session domain.SessionID, user domain.UserID) (domain.Registration, error) {
	var r domain.Registration
	err := db.view(ctx, func(tx *bolt.Tx) error {
		return get(tx, bucketRegistrations, registrationKey(session, user), &r)
	})
	if err != nil {
		return domain.Registration{}, fmt.Errorf("boltstore: get registration of %s in %s: %w", user, session, err)
	}
	return r, nil
}

// CancelRegistration removes a user's registration and frees its spot;
// store.ErrNotFound when there is none. It works whatever the session's
// status.
func (db *DB) CancelRegistration(ctx context.Context, session domain.SessionID, user domain.UserID) error {
	err := db.update(ctx, func(tx *bolt.Tx) error {
		k := registrationKey(session, user)
		if !exists(tx, bucketRegistrations, k) {
			return store.ErrNotFound
		}
		var s domain.Session
		if err := get(tx, bucketSessions, []byte(session), &s); err != nil {
			return fmt.Errorf("session of the registration: %w", err)
		}
		s.Registered = max(s.Registered-1, 0)
		if err := put(tx, bucketSessions, []byte(s.ID), s); err != nil {
			return err
		}
		return tx.Bucket(bucketRegistrations).Delete(k)
	})
	if err != nil {
		return fmt.Errorf("boltstore: cancel registration of %s in %s: %w", user, session, err)
	}
	return nil
}
