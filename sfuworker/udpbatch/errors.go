package udpbatch

import "errors"

// ErrUnsupported is returned by New when the connection cannot send in
// batches (not a *net.UDPConn, or not on Linux amd64/arm64).
var ErrUnsupported = errors.New("udpbatch: connection cannot send in batches")
