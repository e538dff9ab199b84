package forward

import "errors"

// Errors of the forwarding layer.
var (
	// ErrNoCodec is returned by DownTrack.Bind when the subscriber's
	// connection negotiated no codec of the source track.
	ErrNoCodec = errors.New("forward: no matching codec")
	// ErrClosed is returned when a Receiver or DownTrack is used after Close.
	ErrClosed = errors.New("forward: closed")
	// ErrTooManyLayers is returned by Receiver.AddLayer past three layers.
	ErrTooManyLayers = errors.New("forward: too many simulcast layers")
	// ErrBadPacket is returned by ParseRTP for malformed RTP.
	ErrBadPacket = errors.New("forward: malformed rtp packet")
)
