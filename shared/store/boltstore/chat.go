package boltstore

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// maxChatPrune bounds how many expired messages one AddChat deletes, so
// that a write stays short however long the room was left alone.
const maxChatPrune = 100

// chatExpiredAt reports whether a chat message (of a session or a group)
// sent at at has outlived store.ChatTTL at now, in whole seconds as
// DynamoDB's TTL attribute counts.
func chatExpiredAt(at, now time.Time) bool {
	return at.Add(store.ChatTTL).Unix() <= now.Unix()
}

// AddChat keeps a chat message in its room, ordered by At then ID. It
// deletes the room's oldest messages that have expired on the way, so
// that a long-running local runner does not keep chat forever.
func (db *DB) AddChat(ctx context.Context, m store.ChatMessage) error {
	m.At = m.At.UTC()
	err := db.batch(ctx, func(tx *bolt.Tx) error {
		if err := pruneChat(tx, bucketChat, chatRoomPrefix(m.SessionID, m.Room), db.clock.Now()); err != nil {
			return err
		}
		return put(tx, bucketChat, chatKey(m.SessionID, m.Room, m.At, m.ID), m)
	})
	if err != nil {
		return fmt.Errorf("boltstore: add chat %s to %s: %w", m.ID, m.SessionID, err)
	}
	return nil
}

// pruneChat deletes up to maxChatPrune of the oldest messages under
// prefix of a chat bucket (session or group chat) that have expired at
// now, by their time.
func pruneChat(tx *bolt.Tx, bucket, prefix []byte, now time.Time) error {
	b := tx.Bucket(bucket)
	var gone [][]byte
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(gone) < maxChatPrune; k, v = c.Next() {
		var m struct{ At time.Time }
		if err := decode(bucket, v, &m); err != nil {
			return err
		}
		if !chatExpiredAt(m.At, now) {
			break
		}
		gone = append(gone, bytes.Clone(k))
	}
	for _, k := range gone {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// newestChat reads the newest limit messages under prefix of a chat
// bucket that have not expired at now, oldest first.
func newestChat[T any](tx *bolt.Tx, bucket, prefix []byte, limit int, now time.Time, at func(*T) time.Time) ([]T, error) {
	out := []T{}
	c := tx.Bucket(bucket).Cursor()
	var k, v []byte
	if end := prefixEnd(prefix); end == nil {
		k, v = c.Last()
	} else if k, _ = c.Seek(end); k == nil {
		k, v = c.Last()
	} else {
		k, v = c.Prev()
	}
	for ; k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, v = c.Prev() {
		var m T
		if err := decode(bucket, v, &m); err != nil {
			return nil, err
		}
		// Older messages expire first: past this one, all have.
		if chatExpiredAt(at(&m), now) {
			break
		}
		out = append(out, m)
	}
	slices.Reverse(out)
	return out, nil
}

// RecentChat returns the newest limit messages of a session's room (nil:
// the main room) that have not expired, oldest first.
func (db *DB) RecentChat(ctx context.Context, session domain.SessionID, room *int, limit int) ([]store.ChatMessage, error) {
	if limit <= 0 {
		return []store.ChatMessage{}, nil
	}
	now := db.clock.Now()
	var out []store.ChatMessage
	err := db.view(ctx, func(tx *bolt.Tx) (err error) {
		out, err = newestChat(tx, bucketChat, chatRoomPrefix(session, room), limit, now, func(m *store.ChatMessage) time.Time { return m.At })
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: recent chat of %s room %s: %w", session, roomPart(room), err)
	}
	return out, nil
}
