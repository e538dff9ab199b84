package boltstore

import (
	"bytes"
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// RateCounterLife is how long after its window starts a rate counter is
// kept: Allow supports windows up to this long. store.Store.Allow does
// not say how long a window is, so the counter outlives the longest
// window it serves.
const RateCounterLife = 48 * time.Hour

// maxRatePrune bounds how many expired counters one Allow deletes.
const maxRatePrune = 100

// rateCount is the value of a rate counter.
type rateCount struct {
	N       int       `json:"n"`
	Expires time.Time `json:"expires"`
}

// Allow counts one use of key in the fixed window that starts at window
// and reports whether it is within max, in one write transaction. A use
// beyond max is not counted. Each call deletes some counters that have
// expired (RateCounterLife after their window started), so the bucket
// does not grow without bound in a long-running local runner.
func (db *DB) Allow(ctx context.Context, k string, window time.Time, max int) (bool, error) {
	if max <= 0 {
		return false, nil
	}
	now := db.clock.Now()
	rk := rateKey(k, window)
	allowed := false
	err := db.update(ctx, func(tx *bolt.Tx) error {
		if err := pruneRates(tx, now); err != nil {
			return err
		}
		rc := rateCount{Expires: window.Add(RateCounterLife).UTC()}
		if data := tx.Bucket(bucketRates).Get(rk); data != nil {
			if err := decode(bucketRates, data, &rc); err != nil {
				return err
			}
		} else if err := tx.Bucket(bucketRateExpiry).Put(rateExpiryKey(rc.Expires, rk), []byte{}); err != nil {
			return err
		}
		if rc.N >= max {
			return nil
		}
		rc.N++
		allowed = true
		return put(tx, bucketRates, rk, rc)
	})
	if err != nil {
		return false, fmt.Errorf("boltstore: allow %s in window %s: %w", k, window.UTC().Format(time.RFC3339), err)
	}
	return allowed, nil
}

// pruneRates deletes up to maxRatePrune counters that expired by now.
func pruneRates(tx *bolt.Tx, now time.Time) error {
	idx, rates := tx.Bucket(bucketRateExpiry), tx.Bucket(bucketRates)
	var gone [][]byte
	c := idx.Cursor()
	for k, _ := c.First(); k != nil && timeKeyDue(k, now) && len(gone) < maxRatePrune; k, _ = c.Next() {
		gone = append(gone, bytes.Clone(k))
	}
	for _, k := range gone {
		if err := idx.Delete(k); err != nil {
			return err
		}
		if err := rates.Delete(k[len(keyTimeLayout):]); err != nil {
			return err
		}
	}
	return nil
}
