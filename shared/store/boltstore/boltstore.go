// Package boltstore is the embedded store.Store of the local runner: one
// bbolt file on disk.
//
// Every method that checks a limit does the check and the writes inside
// one bbolt Update transaction. bbolt runs one write transaction at a
// time, so a check can never be overtaken by a concurrent write, and a
// refused call writes nothing.
//
// A DB lives from Open to Close. Close is idempotent; calls after Close
// return an error. Only one process may open a file at a time.
package boltstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/greenroom-live/greenroom/shared/domain"
	"github.com/greenroom-live/greenroom/shared/store"
)

var _ store.Store = (*DB)(nil)

// DefaultLockTimeout is how long Open waits for another process to
// release the file before it fails.
const DefaultLockTimeout = 2 * time.Second

// batchDelay is how long a write waits for others to share its
// transaction: a crowd's writes go to disk together, a lone write is
// barely delayed.
const batchDelay = time.Millisecond

// DB is a store.Store in one bbolt file. It is safe for concurrent use.
type DB struct {
	bolt   *bolt.DB
	clock  domain.Clock
	limits limiters
}

type options struct {
	lockTimeout time.Duration
	clock       domain.Clock
}

// Option changes how Open opens the database.
type Option func(*options)

// WithLockTimeout sets how long Open waits for the file lock held by
// another process (DefaultLockTimeout when not set).
func WithLockTimeout(d time.Duration) Option {
	return func(o *options) { o.lockTimeout = d }
}

// WithClock sets the clock that decides whether a connection, a chat
// message or a rate counter has expired (the system clock by default).
func WithClock(c domain.Clock) Option {
	return func(o *options) { o.clock = c }
}

// Open opens the database file at path, creating the file and its
// directory when missing.
func Open(path string, opts ...Option) (*DB, error) {
	o := options{lockTimeout: DefaultLockTimeout, clock: domain.SystemClock{}}
	for _, opt := range opts {
		opt(&o)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: o.lockTimeout})
	if err != nil {
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	err = b.Update(func(tx *bolt.Tx) error {
		for _, name := range buckets() {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		_ = b.Close() // The open error is the one that matters.
		return nil, fmt.Errorf("boltstore: open %s: create buckets: %w", path, err)
	}
	// Concurrent writes wait this long at most to share one transaction
	// (and one sync to disk); alone, a write waits as long.
	b.MaxBatchDelay = batchDelay
	return &DB{bolt: b, clock: o.clock}, nil
}

// Close releases the file. It is idempotent.
func (db *DB) Close() error {
	if err := db.bolt.Close(); err != nil {
		return fmt.Errorf("boltstore: close: %w", err)
	}
	return nil
}

// update runs fn in one write transaction, unless ctx is already done.
func (db *DB) update(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.bolt.Update(fn)
}

// batch runs fn in a write transaction that bbolt may share with other
// concurrent calls (one sync to disk for all of them), unless ctx is
// already done. fn may run more than once; an error it returns is
// returned once bbolt has run fn alone.
func (db *DB) batch(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.bolt.Batch(fn)
}

// view runs fn in one read transaction, unless ctx is already done.
func (db *DB) view(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.bolt.View(fn)
}

// get decodes the value at k in bucket b into v, or returns
// store.ErrNotFound.
func get(tx *bolt.Tx, b, k []byte, v any) error {
	data := tx.Bucket(b).Get(k)
	if data == nil {
		return store.ErrNotFound
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode %s %q: %w", b, k, err)
	}
	return nil
}

// exists reports whether bucket b holds k.
func exists(tx *bolt.Tx, b, k []byte) bool {
	return tx.Bucket(b).Get(k) != nil
}

// decode unmarshals the value data of bucket b into v.
func decode(b, data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode %s: %w", b, err)
	}
	return nil
}

// put encodes v as the value at k in bucket b.
func put(tx *bolt.Tx, b, k []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", b, err)
	}
	return tx.Bucket(b).Put(k, data)
}

// create stores v at k in bucket b, or returns store.ErrExists.
func create(tx *bolt.Tx, b, k []byte, v any) error {
	if exists(tx, b, k) {
		return store.ErrExists
	}
	return put(tx, b, k, v)
}

// scan calls fn for every key of bucket b that starts with prefix, with
// the key and its value, in key order.
func scan(tx *bolt.Tx, b, prefix []byte, fn func(k, v []byte) error) error {
	c := tx.Bucket(b).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return nil
}
