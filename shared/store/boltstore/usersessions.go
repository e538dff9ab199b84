package boltstore

import (
	"context"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// PutUserSession files a session in its user's list, deleting the user's
// entries that have expired on the way.
func (db *DB) PutUserSession(ctx context.Context, e store.UserSession) error {
	e.At, e.Expires = e.At.UTC(), e.Expires.UTC()
	now := db.clock.Now()
	err := db.batch(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketUserSessions)
		var gone [][]byte
		err := scan(tx, bucketUserSessions, key(string(e.UserID)), func(k, v []byte) error {
			var old store.UserSession
			if err := decode(bucketUserSessions, v, &old); err != nil {
				return err
			}
			if !old.Expires.After(now) {
				gone = append(gone, slices.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range gone {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return put(tx, bucketUserSessions, key(string(e.UserID), string(e.SessionID)), e)
	})
	if err != nil {
		return fmt.Errorf("boltstore: file session %s of %s: %w", e.SessionID, e.UserID, err)
	}
	return nil
}

// ListUserSessions returns a user's entries that have not expired, the
// latest first.
func (db *DB) ListUserSessions(ctx context.Context, user domain.UserID, limit int) ([]store.UserSession, error) {
	out := []store.UserSession{}
	now := db.clock.Now()
	err := db.view(ctx, func(tx *bolt.Tx) error {
		return scan(tx, bucketUserSessions, key(string(user)), func(_, v []byte) error {
			var e store.UserSession
			if err := decode(bucketUserSessions, v, &e); err != nil {
				return err
			}
			if e.Expires.After(now) {
				out = append(out, e)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: sessions of %s: %w", user, err)
	}
	sortUserSessions(out)
	if len(out) > limit {
		out = out[:max(limit, 0)]
	}
	return out, nil
}

// sortUserSessions orders entries the latest first, then by session id.
func sortUserSessions(l []store.UserSession) {
	slices.SortFunc(l, func(a, b store.UserSession) int {
		if c := b.At.Compare(a.At); c != 0 {
			return c
		}
		return cmpString(string(a.SessionID), string(b.SessionID))
	})
}
