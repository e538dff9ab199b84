package boltstore

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// connectionExpired reports whether c's record has outlived
// store.ConnectionTTL at now. It counts in whole seconds, as DynamoDB's
// TTL attribute does, so that both stores agree to the second.
func connectionExpired(c store.Connection, now time.Time) bool {
	return c.ConnectedAt.Add(store.ConnectionTTL).Unix() <= now.Unix()
}

// PutConnection records a connection, replacing one with the same id,
// and files it in the stale index at c.Stale().
func (db *DB) PutConnection(ctx context.Context, c store.Connection) error {
	c.ConnectedAt, c.LastSeenAt = c.ConnectedAt.UTC(), c.LastSeenAt.UTC()
	limits := c.Limits
	c.Limits = nil
	err := db.batch(ctx, func(tx *bolt.Tx) error {
		if err := unfileConnection(tx, c.ID); err != nil {
			return err
		}
		return putConnection(tx, c)
	})
	if err != nil {
		return fmt.Errorf("boltstore: put connection %s: %w", c.ID, err)
	}
	db.limits.set(c.ID, limits)
	return nil
}

// putConnection writes c and its entry in the stale index.
func putConnection(tx *bolt.Tx, c store.Connection) error {
	if err := put(tx, bucketConnections, []byte(c.ID), c); err != nil {
		return err
	}
	return tx.Bucket(bucketStale).Put(timeKey(c.Stale(), string(c.ID)), []byte{})
}

// unfileConnection removes the stale index entry of the stored connection
// id, if there is one.
func unfileConnection(tx *bolt.Tx, id domain.ConnectionID) error {
	var old store.Connection
	err := get(tx, bucketConnections, []byte(id), &old)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return err
	}
	return tx.Bucket(bucketStale).Delete(timeKey(old.Stale(), string(id)))
}

// GetConnection returns a connection, or store.ErrNotFound when there is
// none or its record has expired.
func (db *DB) GetConnection(ctx context.Context, id domain.ConnectionID) (store.Connection, error) {
	var c store.Connection
	err := db.view(ctx, func(tx *bolt.Tx) error {
		if err := get(tx, bucketConnections, []byte(id), &c); err != nil {
			return err
		}
		if connectionExpired(c, db.clock.Now()) {
			return store.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return store.Connection{}, fmt.Errorf("boltstore: get connection %s: %w", id, err)
	}
	c.Limits = db.limits.of(id)
	return c, nil
}

// TouchConnection sets a connection's LastSeenAt and moves it in the
// stale index; store.ErrNotFound when there is none or it has expired.
func (db *DB) TouchConnection(ctx context.Context, id domain.ConnectionID, at time.Time) error {
	err := db.batch(ctx, func(tx *bolt.Tx) error {
		var c store.Connection
		if err := get(tx, bucketConnections, []byte(id), &c); err != nil {
			return err
		}
		if connectionExpired(c, db.clock.Now()) {
			return store.ErrNotFound
		}
		if err := tx.Bucket(bucketStale).Delete(timeKey(c.Stale(), string(id))); err != nil {
			return err
		}
		c.LastSeenAt = at.UTC()
		return putConnection(tx, c)
	})
	if err != nil {
		return fmt.Errorf("boltstore: touch connection %s: %w", id, err)
	}
	return nil
}

// DeleteConnection removes a connection and its stale index entry; one
// that is not there is not an error.
func (db *DB) DeleteConnection(ctx context.Context, id domain.ConnectionID) error {
	err := db.batch(ctx, func(tx *bolt.Tx) error {
		if err := unfileConnection(tx, id); err != nil {
			return err
		}
		return tx.Bucket(bucketConnections).Delete([]byte(id))
	})
	if err != nil {
		return fmt.Errorf("boltstore: delete connection %s: %w", id, err)
	}
	db.limits.set(id, nil)
	return nil
}

// StaleConnections returns up to limit connections whose Stale time is
// not after now, the earliest first. Records past their TTL are stale
// too and are returned, so that the caller cleans them up.
func (db *DB) StaleConnections(ctx context.Context, now time.Time, limit int) ([]store.Connection, error) {
	out := []store.Connection{}
	if limit <= 0 {
		return out, nil
	}
	err := db.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketStale).Cursor()
		for k, _ := c.First(); k != nil && timeKeyDue(k, now) && len(out) < limit; k, _ = c.Next() {
			var conn store.Connection
			if err := get(tx, bucketConnections, []byte(timeKeyID(k)), &conn); err != nil {
				return fmt.Errorf("stale connection %s: %w", timeKeyID(k), err)
			}
			out = append(out, conn)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: stale connections at %s: %w", now.UTC().Format(time.RFC3339), err)
	}
	return out, nil
}

// SetLimit moves connection id's limiter class from prev to next, only if
// it still is prev (store.ErrStale otherwise); store.ErrNotFound when the
// connection is gone. The embedded store keeps limiters in memory, beside
// the connection's record on disk: they are about the last seconds of a
// connection's traffic, so that a message costs no write to disk for its
// rate limit; a restart, which closes every socket anyway, forgets them.
func (db *DB) SetLimit(ctx context.Context, id domain.ConnectionID, class string, prev, next time.Time) error {
	var c store.Connection
	err := db.view(ctx, func(tx *bolt.Tx) error { return get(tx, bucketConnections, []byte(id), &c) })
	if err == nil && connectionExpired(c, db.clock.Now()) {
		err = store.ErrNotFound
	}
	if err == nil {
		err = db.limits.swap(id, class, prev, next)
	}
	if err != nil {
		return fmt.Errorf("boltstore: set limit %s of %s: %w", class, id, err)
	}
	return nil
}

// limiters holds the connections' rate limiters in memory.
type limiters struct {
	mu sync.Mutex
	m  map[domain.ConnectionID]map[string]time.Time
}

// swap moves a limiter from prev to next if it is prev.
func (l *limiters) swap(id domain.ConnectionID, class string, prev, next time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.m[id][class].Equal(prev) {
		return store.ErrStale
	}
	if l.m == nil {
		l.m = map[domain.ConnectionID]map[string]time.Time{}
	}
	if l.m[id] == nil {
		l.m[id] = map[string]time.Time{}
	}
	l.m[id][class] = next.UTC()
	return nil
}

// of returns a copy of a connection's limiters, nil when it has none.
func (l *limiters) of(id domain.ConnectionID) map[string]time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.m[id]) == 0 {
		return nil
	}
	return maps.Clone(l.m[id])
}

// set replaces a connection's limiters (nil forgets them).
func (l *limiters) set(id domain.ConnectionID, m map[string]time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(m) == 0 {
		delete(l.m, id)
		return
	}
	if l.m == nil {
		l.m = map[domain.ConnectionID]map[string]time.Time{}
	}
	l.m[id] = maps.Clone(m)
}
