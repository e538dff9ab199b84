package boltstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// sessionRecord is a session's own item: the session without its members
// and questions (each has an item of its own). Version grows with every
// write of it.
type sessionRecord = domain.Session

// headOnly returns s as its own item keeps it.
func headOnly(s domain.Session) sessionRecord {
	s.Live.Members, s.Live.Questions, s.Live.Partial = nil, nil, false
	return s
}

// GetSession returns a session with every member, question and vote.
func (db *DB) GetSession(ctx context.Context, id domain.SessionID) (domain.Session, error) {
	var s domain.Session
	err := db.view(ctx, func(tx *bolt.Tx) error {
		var err error
		s, err = readSession(tx, id, store.AllLoad)
		return err
	})
	if err != nil {
		return domain.Session{}, fmt.Errorf("boltstore: get session %s: %w", id, err)
	}
	return s, nil
}

// ReadSession returns a session with what load names.
func (db *DB) ReadSession(ctx context.Context, id domain.SessionID, load store.Load) (domain.Session, error) {
	var s domain.Session
	err := db.view(ctx, func(tx *bolt.Tx) error {
		var err error
		s, err = readSession(tx, id, load)
		return err
	})
	if err != nil {
		return domain.Session{}, fmt.Errorf("boltstore: read session %s: %w", id, err)
	}
	return s, nil
}

// readSession reads the session item and what load names, in tx.
func readSession(tx *bolt.Tx, id domain.SessionID, load store.Load) (domain.Session, error) {
	var s domain.Session
	if err := get(tx, bucketSessions, []byte(id), &s); err != nil {
		return domain.Session{}, err
	}
	s.Live.Members, s.Live.Questions = nil, nil
	s.Live.Partial = !load.AllMembers
	if load.AllMembers {
		err := scan(tx, bucketMembers, key(string(id)), func(_, v []byte) error {
			var m domain.Member
			if err := decode(bucketMembers, v, &m); err != nil {
				return err
			}
			s.Live.Members = append(s.Live.Members, m)
			return nil
		})
		if err != nil {
			return domain.Session{}, err
		}
	} else {
		want := slices.Clone(load.Members)
		if load.Stage {
			want = append(want, s.OnStage()...)
		}
		seen := map[domain.UserID]bool{}
		for _, u := range want {
			if seen[u] {
				continue
			}
			seen[u] = true
			var m domain.Member
			err := get(tx, bucketMembers, memberKey(id, u), &m)
			switch {
			case errors.Is(err, store.ErrNotFound):
				continue
			case err != nil:
				return domain.Session{}, err
			}
			s.Live.Members = append(s.Live.Members, m)
		}
	}
	if load.AllQuestions {
		err := scan(tx, bucketQuestions, key(string(id)), func(_, v []byte) error {
			var q domain.Question
			if err := decode(bucketQuestions, v, &q); err != nil {
				return err
			}
			s.Live.Questions = append(s.Live.Questions, q)
			return nil
		})
		if err != nil {
			return domain.Session{}, err
		}
	} else {
		for _, qid := range load.Questions {
			var q domain.Question
			err := get(tx, bucketQuestions, questionKey(id, qid), &q)
			switch {
			case errors.Is(err, store.ErrNotFound):
				continue
			case err != nil:
				return domain.Session{}, err
			}
			if !slices.ContainsFunc(s.Live.Questions, func(x domain.Question) bool { return x.ID == q.ID }) {
				s.Live.Questions = append(s.Live.Questions, q)
			}
		}
	}
	if (load.AllVotes || load.VotesOf != "") && len(s.Live.Questions) > 0 {
		prefix := key(string(id))
		if !load.AllVotes {
			prefix = key(string(id), string(load.VotesOf))
		}
		byID := map[string]int{}
		for i, q := range s.Live.Questions {
			byID[q.ID] = i
		}
		err := scan(tx, bucketVotes, prefix, func(k, _ []byte) error {
			u, qid, ok := voteParts(k)
			if !ok {
				return fmt.Errorf("bad vote key %q", k)
			}
			if i, ok := byID[qid]; ok {
				s.Live.Questions[i].Voters = append(s.Live.Questions[i].Voters, domain.UserID(u))
			}
			return nil
		})
		if err != nil {
			return domain.Session{}, err
		}
	}
	store.Canonical(&s)
	s.Mirror()
	return s, nil
}

// UpdateSession is Update reading everything.
func (db *DB) UpdateSession(ctx context.Context, id domain.SessionID, fn func(*domain.Session) error) (domain.Session, error) {
	return db.Update(ctx, id, store.AllLoad, fn)
}

// Update reads the session as load says, calls fn on a copy and writes
// what fn changed (store.Diff), all in one write transaction: bbolt runs
// one at a time, so nothing changes the session in between and no
// condition can fail. Concurrent calls share one transaction (bbolt's
// Batch), and so one sync to disk. When fn returns an error nothing is
// written and the session as read is returned with that error (wrapped).
// store.ErrNotFound when there is no such session.
func (db *DB) Update(ctx context.Context, id domain.SessionID, load store.Load, fn func(*domain.Session) error) (domain.Session, error) {
	if err := ctx.Err(); err != nil {
		return domain.Session{}, err
	}
	var (
		read, out domain.Session
		fnErr     error
	)
	// A Batch function may run more than once; it never fails for fn's
	// error (which would make bbolt rerun the whole batch), it records it.
	err := db.bolt.Batch(func(tx *bolt.Tx) error {
		fnErr = nil
		l := load
		for {
			var err error
			if read, err = readSession(tx, id, l); err != nil {
				return err
			}
			work, err := store.Clone(read)
			if err != nil {
				return err
			}
			err = fn(&work)
			if errors.Is(err, domain.ErrPartial) && !l.AllMembers {
				l = l.WithAllMembers()
				continue
			}
			if err != nil {
				fnErr = err
				return nil
			}
			out, err = write(tx, &read, &work, db.clock.Now())
			return err
		}
	})
	switch {
	case err != nil:
		return domain.Session{}, fmt.Errorf("boltstore: update session %s: %w", id, err)
	case fnErr != nil:
		return read, fmt.Errorf("boltstore: update session %s: %w", id, fnErr)
	}
	return out, nil
}

// write stores what work changed of read, with each item's place in the
// due list, and returns the session as stored.
func write(tx *bolt.Tx, read, work *domain.Session, now time.Time) (domain.Session, error) {
	p := store.Diff(read, work)
	id := read.ID
	out := *work
	// Only the live fields are written; the rest stays as read.
	out.ID, out.Kind, out.Title, out.EventID, out.EmployerID = read.ID, read.Kind, read.Title, read.EventID, read.EmployerID
	out.HostID, out.GroupID, out.Speakers, out.Start, out.End = read.HostID, read.GroupID, read.Speakers, read.Start, read.End
	out.Capacity, out.Registered, out.Stage, out.CreatedAt, out.Version = read.Capacity, read.Registered, read.Stage, read.CreatedAt, read.Version
	if p.HeadWritten() {
		out.Version++
	}
	if p.HeadWritten() || p.Seq != 0 {
		if err := put(tx, bucketSessions, []byte(id), headOnly(out)); err != nil {
			return domain.Session{}, err
		}
		if err := fileDue(tx, id, "", out.HeadDue()); err != nil {
			return domain.Session{}, err
		}
	}
	written := map[domain.UserID]bool{}
	for _, w := range p.Members {
		if w.After == nil {
			written[w.Before.UserID] = true
			if err := tx.Bucket(bucketMembers).Delete(memberKey(id, w.Before.UserID)); err != nil {
				return domain.Session{}, err
			}
			if err := fileDue(tx, id, memberDueItem(w.Before.UserID), time.Time{}); err != nil {
				return domain.Session{}, err
			}
			continue
		}
		written[w.After.UserID] = true
		if w.Before != nil {
			w.After.Version = w.Before.Version + 1
		} else {
			w.After.Version = 1
		}
		stored := store.StoredMember(*w.After)
		stored.Version = w.After.Version
		if err := put(tx, bucketMembers, memberKey(id, w.After.UserID), stored); err != nil {
			return domain.Session{}, err
		}
	}
	if out.Status.Over() {
		// Nothing is due in a session that is over: its members' entries
		// go too, read or not.
		if err := unfileAll(tx, id); err != nil {
			return domain.Session{}, err
		}
	}
	// Every member read is filed at its due time, written or not: the
	// time can follow from the session item (a seat, the presenter).
	for i := range out.Live.Members {
		m := &out.Live.Members[i]
		if err := fileDue(tx, id, memberDueItem(m.UserID), out.MemberDue(*m)); err != nil {
			return domain.Session{}, err
		}
	}
	for _, w := range p.Questions {
		q := w.Question
		q.Voters = nil
		if err := put(tx, bucketQuestions, questionKey(id, q.ID), q); err != nil {
			return domain.Session{}, err
		}
	}
	for _, v := range p.Votes {
		if err := tx.Bucket(bucketVotes).Put(voteKey(id, v.UserID, v.QuestionID), []byte{}); err != nil {
			return domain.Session{}, err
		}
	}
	store.Canonical(&out)
	out.Mirror()
	return out, nil
}

// fileDue files the item of session id named item ("" for the session's
// own item) in the due list at due, replacing where it was filed, or
// takes it out when due is zero. Where it was filed is kept apart
// (itemDue), so that a change of the rules cannot leave stale entries.
func fileDue(tx *bolt.Tx, id domain.SessionID, item string, due time.Time) error {
	dues, byItem := tx.Bucket(bucketDue), tx.Bucket(bucketItemDue)
	ik := key(string(id), item)
	old := byItem.Get(ik)
	var next []byte
	if !due.IsZero() {
		next = timeKey(due, dueRef(id, item))
	}
	if bytes.Equal(old, next) {
		return nil
	}
	if old != nil {
		if err := dues.Delete(old); err != nil {
			return err
		}
	}
	if next == nil {
		return byItem.Delete(ik)
	}
	if err := dues.Put(next, []byte{}); err != nil {
		return err
	}
	return byItem.Put(ik, next)
}

// unfileAll takes every item of session id out of the due list.
func unfileAll(tx *bolt.Tx, id domain.SessionID) error {
	dues, byItem := tx.Bucket(bucketDue), tx.Bucket(bucketItemDue)
	var keys [][]byte
	err := scan(tx, bucketItemDue, key(string(id)), func(k, v []byte) error {
		keys = append(keys, bytes.Clone(k))
		return dues.Delete(v)
	})
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := byItem.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// DueSessions returns up to limit sessions whose session item or one of
// whose members is due at or before now, earliest first; sessions that
// are over are skipped.
func (db *DB) DueSessions(ctx context.Context, now time.Time, limit int) ([]domain.SessionID, error) {
	out := []domain.SessionID{}
	if limit <= 0 {
		return out, nil
	}
	err := db.view(ctx, func(tx *bolt.Tx) error {
		seen := map[domain.SessionID]bool{}
		c := tx.Bucket(bucketDue).Cursor()
		for k, _ := c.First(); k != nil && timeKeyDue(k, now) && len(out) < limit; k, _ = c.Next() {
			id := dueSession(timeKeyID(k))
			if seen[id] {
				continue
			}
			seen[id] = true
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
