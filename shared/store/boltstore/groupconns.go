package boltstore

import (
	"context"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// PutGroupConnection records a group's connection and files it among the
// group's connections, in one transaction.
func (db *DB) PutGroupConnection(ctx context.Context, c store.Connection) error {
	c.ConnectedAt, c.LastSeenAt = c.ConnectedAt.UTC(), c.LastSeenAt.UTC()
	limits := c.Limits
	c.Limits = nil
	err := db.batch(ctx, func(tx *bolt.Tx) error {
		if err := unfileConnection(tx, c.ID); err != nil {
			return err
		}
		if err := putConnection(tx, c); err != nil {
			return err
		}
		return put(tx, bucketGroupConns, key(string(c.GroupID), string(c.ID)), c)
	})
	if err != nil {
		return fmt.Errorf("boltstore: put connection %s of group %s: %w", c.ID, c.GroupID, err)
	}
	db.limits.set(c.ID, limits)
	return nil
}

// ListGroupConnections returns a group's connections that have not
// expired, ordered by id.
func (db *DB) ListGroupConnections(ctx context.Context, group domain.GroupID) ([]store.Connection, error) {
	now := db.clock.Now()
	out := []store.Connection{}
	err := db.view(ctx, func(tx *bolt.Tx) error {
		return scan(tx, bucketGroupConns, key(string(group)), func(_, v []byte) error {
			var c store.Connection
			if err := decode(bucketGroupConns, v, &c); err != nil {
				return err
			}
			if !connectionExpired(c, now) {
				out = append(out, c)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: connections of group %s: %w", group, err)
	}
	slices.SortFunc(out, func(a, b store.Connection) int { return cmpString(string(a.ID), string(b.ID)) })
	return out, nil
}

// DeleteGroupConnection removes a group's connection and its record, in
// one transaction.
func (db *DB) DeleteGroupConnection(ctx context.Context, group domain.GroupID, id domain.ConnectionID) error {
	err := db.batch(ctx, func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketGroupConns).Delete(key(string(group), string(id))); err != nil {
			return err
		}
		if err := unfileConnection(tx, id); err != nil {
			return err
		}
		return tx.Bucket(bucketConnections).Delete([]byte(id))
	})
	if err != nil {
		return fmt.Errorf("boltstore: delete connection %s of group %s: %w", id, group, err)
	}
	db.limits.set(id, nil)
	return nil
}
