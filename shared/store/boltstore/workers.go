package boltstore

import (
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/greenroom-live/greenroom/shared/store"
)

// workerExpired reports whether w's record has outlived store.WorkerTTL
// at now, in whole seconds as DynamoDB's TTL attribute counts.
func workerExpired(w store.Worker, now time.Time) bool {
	return w.Expires().Unix() <= now.Unix()
}

// PutWorker records a worker's heartbeat, replacing the record with the
// same id.
func (db *DB) PutWorker(ctx context.Context, w store.Worker) error {
	w.HeartbeatAt = w.HeartbeatAt.UTC()
	err := db.update(ctx, func(tx *bolt.Tx) error {
		return put(tx, bucketWorkers, []byte(w.ID), w)
	})
	if err != nil {
		return fmt.Errorf("boltstore: put worker %s: %w", w.ID, err)
	}
	return nil
}

// ListWorkers returns the workers whose records have not expired, by id.
// Expired records are deleted on the way, as DynamoDB's TTL would.
func (db *DB) ListWorkers(ctx context.Context) ([]store.Worker, error) {
	out := []store.Worker{}
	var gone [][]byte
	now := db.clock.Now()
	err := db.view(ctx, func(tx *bolt.Tx) error {
		return scan(tx, bucketWorkers, nil, func(k, v []byte) error {
			var w store.Worker
			if err := decode(bucketWorkers, v, &w); err != nil {
				return err
			}
			if workerExpired(w, now) {
				gone = append(gone, append([]byte(nil), k...))
				return nil
			}
			out = append(out, w)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: list workers: %w", err)
	}
	if len(gone) > 0 {
		err := db.update(ctx, func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketWorkers)
			for _, k := range gone {
				var w store.Worker
				if err := get(tx, bucketWorkers, k, &w); err != nil || !workerExpired(w, now) {
					continue // Gone or refreshed since the scan.
				}
				if err := b.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("boltstore: list workers: prune: %w", err)
		}
	}
	return out, nil
}

// DeleteWorker removes a worker's record; one that is not there is not
// an error.
func (db *DB) DeleteWorker(ctx context.Context, id string) error {
	err := db.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketWorkers).Delete([]byte(id))
	})
	if err != nil {
		return fmt.Errorf("boltstore: delete worker %s: %w", id, err)
	}
	return nil
}
