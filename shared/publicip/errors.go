package publicip

import "errors"

var (
	// ErrNotFound is returned by Discover when neither the task metadata
	// nor any STUN server gave a public IPv4 address. The error wraps
	// what each source answered.
	ErrNotFound = errors.New("publicip: no public IPv4 address found")
	// ErrNoAnswer is returned by STUN when the server did not answer any
	// of the Binding requests in time.
	ErrNoAnswer = errors.New("publicip: no STUN answer")
	// ErrBadAnswer is returned by STUN for a Binding answer that is an
	// error response or holds no mapped IPv4 address.
	ErrBadAnswer = errors.New("publicip: STUN answer without a mapped IPv4 address")
	// ErrMetadata is returned by TaskIPv4 when the ECS task metadata
	// endpoint does not answer 200 with the task's addresses.
	ErrMetadata = errors.New("publicip: ECS task metadata without an IPv4 address")
)
