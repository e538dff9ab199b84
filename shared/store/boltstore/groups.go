package boltstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

// CreateGroup stores a group and its owner in one transaction.
func (db *DB) CreateGroup(ctx context.Context, g domain.Group, owner domain.GroupMember) error {
	g.Members = 1
	err := db.update(ctx, func(tx *bolt.Tx) error {
		if err := create(tx, bucketGroups, []byte(g.ID), g); err != nil {
			return err
		}
		if err := put(tx, bucketGroupMembers, groupMemberKey(g.ID, owner.UserID), owner); err != nil {
			return err
		}
		return tx.Bucket(bucketUserGroups).Put(userGroupKey(owner.UserID, g.ID), []byte{})
	})
	if err != nil {
		return fmt.Errorf("boltstore: create group %s: %w", g.ID, err)
	}
	return nil
}

// GetGroup returns a group, or store.ErrNotFound.
func (db *DB) GetGroup(ctx context.Context, id domain.GroupID) (domain.Group, error) {
	var g domain.Group
	err := db.view(ctx, func(tx *bolt.Tx) error { return get(tx, bucketGroups, []byte(id), &g) })
	if err != nil {
		return domain.Group{}, fmt.Errorf("boltstore: get group %s: %w", id, err)
	}
	return g, nil
}

// AddGroupMember adds a member within limit, in one transaction.
func (db *DB) AddGroupMember(ctx context.Context, m domain.GroupMember, limit int) (domain.GroupMember, bool, error) {
	created := false
	err := db.update(ctx, func(tx *bolt.Tx) error {
		var g domain.Group
		if err := get(tx, bucketGroups, []byte(m.GroupID), &g); err != nil {
			return err
		}
		k := groupMemberKey(m.GroupID, m.UserID)
		if exists(tx, bucketGroupMembers, k) {
			return get(tx, bucketGroupMembers, k, &m)
		}
		if g.Members == 0 {
			// Its owner left it alone: the group is gone.
			return store.ErrNotFound
		}
		if g.Members >= limit {
			return store.ErrGroupFull
		}
		g.Members++
		created = true
		if err := put(tx, bucketGroups, []byte(g.ID), g); err != nil {
			return err
		}
		if err := put(tx, bucketGroupMembers, k, m); err != nil {
			return err
		}
		return tx.Bucket(bucketUserGroups).Put(userGroupKey(m.UserID, m.GroupID), []byte{})
	})
	if err != nil {
		return domain.GroupMember{}, false, fmt.Errorf("boltstore: add %s to group %s: %w", m.UserID, m.GroupID, err)
	}
	return m, created, nil
}

// RemoveGroupMember takes a member out of its group in one transaction.
func (db *DB) RemoveGroupMember(ctx context.Context, group domain.GroupID, user domain.UserID) error {
	err := db.update(ctx, func(tx *bolt.Tx) error {
		var g domain.Group
		if err := get(tx, bucketGroups, []byte(group), &g); err != nil {
			return err
		}
		k := groupMemberKey(group, user)
		if !exists(tx, bucketGroupMembers, k) {
			return store.ErrNotFound
		}
		if user == g.OwnerID && g.Members > 1 {
			return store.ErrGroupOwner
		}
		g.Members--
		if err := put(tx, bucketGroups, []byte(g.ID), g); err != nil {
			return err
		}
		if err := tx.Bucket(bucketGroupMembers).Delete(k); err != nil {
			return err
		}
		return tx.Bucket(bucketUserGroups).Delete(userGroupKey(user, group))
	})
	if err != nil {
		return fmt.Errorf("boltstore: remove %s from group %s: %w", user, group, err)
	}
	return nil
}

// GetGroupMember returns a member of a group, or store.ErrNotFound.
func (db *DB) GetGroupMember(ctx context.Context, group domain.GroupID, user domain.UserID) (domain.GroupMember, error) {
	var m domain.GroupMember
	err := db.view(ctx, func(tx *bolt.Tx) error { return get(tx, bucketGroupMembers, groupMemberKey(group, user), &m) })
	if err != nil {
		return domain.GroupMember{}, fmt.Errorf("boltstore: get member %s of group %s: %w", user, group, err)
	}
	return m, nil
}

// ListGroupMembers returns a group's members ordered by user id.
func (db *DB) ListGroupMembers(ctx context.Context, group domain.GroupID) ([]domain.GroupMember, error) {
	out := []domain.GroupMember{}
	err := db.view(ctx, func(tx *bolt.Tx) error {
		return scan(tx, bucketGroupMembers, key(string(group)), func(_, v []byte) error {
			var m domain.GroupMember
			if err := decode(bucketGroupMembers, v, &m); err != nil {
				return err
			}
			out = append(out, m)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: members of group %s: %w", group, err)
	}
	slices.SortFunc(out, func(a, b domain.GroupMember) int { return cmpString(string(a.UserID), string(b.UserID)) })
	return out, nil
}

// ListUserGroups returns a user's groups ordered by group id.
func (db *DB) ListUserGroups(ctx context.Context, user domain.UserID) ([]domain.Group, error) {
	out := []domain.Group{}
	err := db.view(ctx, func(tx *bolt.Tx) error {
		return scan(tx, bucketUserGroups, key(string(user)), func(k, _ []byte) error {
			id, ok := lastPart(k)
			if !ok {
				return fmt.Errorf("bad index key %q", k)
			}
			var g domain.Group
			if err := get(tx, bucketGroups, []byte(id), &g); err != nil {
				return fmt.Errorf("indexed group %s: %w", id, err)
			}
			out = append(out, g)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: groups of %s: %w", user, err)
	}
	slices.SortFunc(out, func(a, b domain.Group) int { return cmpString(string(a.ID), string(b.ID)) })
	return out, nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// groupChatExpired reports whether m has outlived store.ChatTTL at now.

// AddGroupChat keeps a group's message, deleting the group's oldest
// expired messages on the way.
func (db *DB) AddGroupChat(ctx context.Context, m store.GroupMessage) error {
	m.At = m.At.UTC()
	err := db.batch(ctx, func(tx *bolt.Tx) error {
		if err := pruneChat(tx, bucketGroupChat, key(string(m.GroupID)), db.clock.Now()); err != nil {
			return err
		}
		return put(tx, bucketGroupChat, groupChatKey(m.GroupID, m.At, m.ID), m)
	})
	if err != nil {
		return fmt.Errorf("boltstore: add chat %s to group %s: %w", m.ID, m.GroupID, err)
	}
	return nil
}

// RecentGroupChat returns the newest limit messages of a group that have
// not expired, oldest first.
func (db *DB) RecentGroupChat(ctx context.Context, group domain.GroupID, limit int) ([]store.GroupMessage, error) {
	if limit <= 0 {
		return []store.GroupMessage{}, nil
	}
	now := db.clock.Now()
	var out []store.GroupMessage
	err := db.view(ctx, func(tx *bolt.Tx) (err error) {
		out, err = newestChat(tx, bucketGroupChat, key(string(group)), limit, now, func(m *store.GroupMessage) time.Time { return m.At })
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: recent chat of group %s: %w", group, err)
	}
	return out, nil
}

// SetGroupChatLimit moves a member's chat limiter from prev to next if it
// still is prev, in one transaction.
func (db *DB) SetGroupChatLimit(ctx context.Context, group domain.GroupID, user domain.UserID, prev, next time.Time) error {
	err := db.update(ctx, func(tx *bolt.Tx) error {
		var m domain.GroupMember
		k := groupMemberKey(group, user)
		if err := get(tx, bucketGroupMembers, k, &m); err != nil {
			return err
		}
		if !m.ChatLimit.Equal(prev) {
			return store.ErrStale
		}
		m.ChatLimit = next.UTC()
		return put(tx, bucketGroupMembers, k, m)
	})
	if err != nil {
		return fmt.Errorf("boltstore: set chat limit of %s in group %s: %w", user, group, err)
	}
	return nil
}
