package boltstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// BookSession stores a scheduled session (its own item) in its event's
// slot, all or nothing, due for the scheduler at s.HeadDue(), within the
// limits of lim checked in the order of the contract:
// store.ErrEmployerLimit, then store.ErrEventLimit, then store.ErrSlotFull.
// store.ErrNotFound if the event or the employer does not exist,
// store.ErrExists if the session id is taken.
func (db *DB) BookSession(ctx context.Context, s domain.Session, lim store.BookingLimits) error {
	s.Registered = 0
	s.Start, s.End = s.Start.UTC(), s.End.UTC()
	err := db.update(ctx, func(tx *bolt.Tx) error {
		var ev domain.Event
		if err := get(tx, bucketEvents, []byte(s.EventID), &ev); err != nil {
			return fmt.Errorf("event %s: %w", s.EventID, err)
		}
		var emp domain.Employer
		empKey := employerKey(s.EventID, s.EmployerID)
		if err := get(tx, bucketEmployers, empKey, &emp); err != nil {
			return fmt.Errorf("employer %s: %w", s.EmployerID, err)
		}
		if exists(tx, bucketSessions, []byte(s.ID)) {
			return store.ErrExists
		}
		slot := slotCount{Start: s.Start}
		sKey := slotKey(s.EventID, s.Start)
		if exists(tx, bucketSlots, sKey) {
			if err := get(tx, bucketSlots, sKey, &slot); err != nil {
				return err
			}
		}
		switch {
		case emp.SessionsBooked >= lim.MaxSessionsPerEmployer:
			return store.ErrEmployerLimit
		case ev.SessionsBooked >= lim.MaxSessions:
			return store.ErrEventLimit
		case slot.Sessions >= lim.SessionsPerSlot:
			return store.ErrSlotFull
		}
		emp.SessionsBooked++
		ev.SessionsBooked++
		slot.Sessions++
		if err := put(tx, bucketEmployers, empKey, emp); err != nil {
			return err
		}
		if err := put(tx, bucketEvents, []byte(ev.ID), ev); err != nil {
			return err
		}
		if err := put(tx, bucketSlots, sKey, slot); err != nil {
			return err
		}
		if err := put(tx, bucketSessions, []byte(s.ID), headOnly(s)); err != nil {
			return err
		}
		if err := fileDue(tx, s.ID, "", s.HeadDue()); err != nil {
			return err
		}
		return tx.Bucket(bucketEventSessions).Put(eventSessionKey(s.EventID, s.ID), []byte{})
	})
	if err != nil {
		return fmt.Errorf("boltstore: book session %s: %w", s.ID, err)
	}
	return nil
}

// CreateSession stores an instant or primetime session (its own item)
// with no registrations, due for the scheduler at s.HeadDue();
// store.ErrExists if the id is taken. A scheduled session
// is refused with ErrScheduled: it is booked with BookSession, which
// keeps the event's counters.
func (db *DB) CreateSession(ctx context.Context, s domain.Session) error {
	if s.Kind == domain.KindScheduled {
		return fmt.Errorf("boltstore: create session %s: %w", s.ID, ErrScheduled)
	}
	s.Registered = 0
	err := db.update(ctx, func(tx *bolt.Tx) error {
		if err := create(tx, bucketSessions, []byte(s.ID), headOnly(s)); err != nil {
			return err
		}
		return fileDue(tx, s.ID, "", s.HeadDue())
	})
	if err != nil {
		return fmt.Errorf("boltstore: create session %s: %w", s.ID, err)
	}
	return nil
}

// ListEventSessions returns an event's sessions ordered by start, then
// id, each with its current Registered count and its own item only. An event with no sessions,
// or no event, gives an empty list.
func (db *DB) ListEventSessions(ctx context.Context, event domain.EventID) ([]domain.Session, error) {
	out := []domain.Session{}
	err := db.view(ctx, func(tx *bolt.Tx) error {
		return scan(tx, bucketEventSessions, key(string(event)), func(k, _ []byte) error {
			id, ok := lastPart(k)
			if !ok {
				return fmt.Errorf("bad index key %q", k)
			}
			var s domain.Session
			if err := get(tx, bucketSessions, []byte(id), &s); err != nil {
				return fmt.Errorf("indexed session %s: %w", id, err)
			}
			s.Live.Partial = true
			out = append(out, s)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: list sessions of event %s: %w", event, err)
	}
	slices.SortFunc(out, func(a, b domain.Session) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return strings.Compare(string(a.ID), string(b.ID))
	})
	return out, nil
}

// SlotUsage returns how many sessions are booked in each slot of an
// event, keyed by the slot's start in UTC; slots with none are absent.
func (db *DB) SlotUsage(ctx context.Context, event domain.EventID) (map[time.Time]int, error) {
	out := make(map[time.Time]int)
	err := db.view(ctx, func(tx *bolt.Tx) error {
		return scan(tx, bucketSlots, key(string(event)), func(k, v []byte) error {
			var slot slotCount
			if err := json.Unmarshal(v, &slot); err != nil {
				return fmt.Errorf("decode slot %q: %w", k, err)
			}
			if slot.Sessions > 0 {
				out[slot.Start.UTC()] = slot.Sessions
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: slot usage of event %s: %w", event, err)
	}
	return out, nil
}

// AddSpeaker names user a speaker of a scheduled session within limit
// speakers, in one write transaction.
func (db *DB) AddSpeaker(ctx context.Context, id domain.SessionID, user domain.UserID, limit int) (domain.Session, error) {
	var s domain.Session
	err := db.update(ctx, func(tx *bolt.Tx) error {
		if err := get(tx, bucketSessions, []byte(id), &s); err != nil {
			return err
		}
		switch {
		case s.IsSpeaker(user):
			return nil
		case s.Status.Over():
			return store.ErrSessionOver
		case len(s.Speakers) >= limit:
			return store.ErrSpeakersFull
		}
		s.Speakers = append(s.Speakers, user)
		return put(tx, bucketSessions, []byte(id), headOnly(s))
	})
	if err != nil {
		return domain.Session{}, fmt.Errorf("boltstore: add speaker %s to %s: %w", user, id, err)
	}
	s.Live.Partial = true
	return s, nil
}

// RemoveSpeaker takes user off a scheduled session's speakers in one
// write transaction.
func (db *DB) RemoveSpeaker(ctx context.Context, id domain.SessionID, user domain.UserID) (domain.Session, error) {
	var s domain.Session
	err := db.update(ctx, func(tx *bolt.Tx) error {
		if err := get(tx, bucketSessions, []byte(id), &s); err != nil {
			return err
		}
		switch {
		case s.Status.Over():
			return store.ErrSessionOver
		case !s.IsSpeaker(user):
			return store.ErrNotSpeaker
		}
		s.Speakers = slices.DeleteFunc(s.Speakers, func(u domain.UserID) bool { return u == user })
		return put(tx, bucketSessions, []byte(id), headOnly(s))
	})
	if err != nil {
		return domain.Session{}, fmt.Errorf("boltstore: remove speaker %s from %s: %w", user, id, err)
	}
	s.Live.Partial = true
	return s, nil
}
