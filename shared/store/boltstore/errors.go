package boltstore

import "errors"

// ErrScheduled is returned by CreateSession for a session of kind
// scheduled: those are booked with BookSession, which counts them against
// the event's limits.
var ErrScheduled = errors.New("boltstore: scheduled sessions are booked, not created")
