package fanout

import "errors"

var (
	// ErrNoClient is returned by New when Config.Client is nil.
	ErrNoClient = errors.New("fanout: no management API client")
	// ErrBadConcurrency is returned by New when Config.Concurrency is
	// negative.
	ErrBadConcurrency = errors.New("fanout: concurrency must not be negative")
	// ErrGone is returned (wrapped, beside the SDK's GoneException) by
	// Post and Disconnect when the connection no longer exists: API
	// Gateway answered 410. The caller should forget that connection.
	ErrGone = errors.New("fanout: connection gone")
)
