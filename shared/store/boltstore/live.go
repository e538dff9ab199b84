package boltstore

import (
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// UpdateSession reads the session, calls fn on a copy of it and stores
// Status, PresenterID and Live with Version grown by one, all in one write
// transaction: bbolt runs one at a time, so nothing changes the session
// in between and fn runs once. When fn returns an error nothing is
// written and the session as read is returned with that error (wrapped).
// store.ErrNotFound when there is no such session.
func (db *DB) UpdateSession(ctx context.Context, id domain.SessionID, fn func(*domain.Session) error) (domain.Session, error) {
	var (
		read, out domain.Session
		fnErr     error
	)
	err := db.update(ctx, func(tx *bolt.Tx) error {
		data := tx.Bucket(bucketSessions).Get([]byte(id))
		if data == nil {
			return store.ErrNotFound
		}
		// Two decodings give fn a deep copy: what it changes, even when
		// it fails half way, cannot reach the session as read.
		var work domain.Session
		if err := decode(bucketSessions, data, &read); err != nil {
			return err
		}
		if err := decode(bucketSessions, data, &work); err != nil {
			return err
		}
		if fnErr = fn(&work); fnErr != nil {
			return fnErr
		}
		out = read
		out.Status, out.PresenterID, out.Live = work.Status, work.PresenterID, work.Live
		out.Version = read.Version + 1
		if err := put(tx, bucketSessions, []byte(id), out); err != nil {
			return err
		}
		return setDue(tx, out)
	})
	switch {
	case fnErr != nil:
		return read, fmt.Errorf("boltstore: update session %s: %w", id, fnErr)
	case err != nil:
		return domain.Session{}, fmt.Errorf("boltstore: update session %s: %w", id, err)
	}
	return out, nil
}

// setDue files the session s in the due index at s.NextDue(), replacing
// where it was filed before, or takes it out when nothing is pending.
// Where it was filed is kept apart (sessionDue) rather than recomputed, so
// that a change of the rules of NextDue cannot leave stale entries.
func setDue(tx *bolt.Tx, s domain.Session) error {
	due, byID := tx.Bucket(bucketDue), tx.Bucket(bucketSessionDue)
	if old := byID.Get([]byte(s.ID)); old != nil {
		if err := due.Delete(old); err != nil {
			return err
		}
	}
	next := s.NextDue()
	if next.IsZero() {
		return byID.Delete([]byte(s.ID))
	}
	k := timeKey(next, string(s.ID))
	if err := due.Put(k, []byte{}); err != nil {
		return err
	}
	return byID.Put([]byte(s.ID), k)
}

// DueSessions returns up to limit sessions whose NextDue is not after
// now, earliest first (then by id); sessions that are over are skipped.
func (db *DB) DueSessions(ctx context.Context, now time.Time, limit int) ([]domain.SessionID, error) {
	out := []domain.SessionID{}
	if limit <= 0 {
		return out, nil
	}
	err := db.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketDue).Cursor()
		for k, _ := c.First(); k != nil && timeKeyDue(k, now) && len(out) < limit; k, _ = c.Next() {
			id := domain.SessionID(timeKeyID(k))
			var s domain.Session
			if err := get(tx, bucketSessions, []byte(id), &s); err != nil {
				return fmt.Errorf("due session %s: %w", id, err)
			}
			if !s.Status.Over() {
				out = append(out, id)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: due sessions at %s: %w", now.UTC().Format(time.RFC3339), err)
	}
	return out, nil
}
