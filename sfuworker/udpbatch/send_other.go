//go:build !(linux && (amd64 || arm64))

package udpbatch

import "net"

func newSender(*net.UDPConn) (sender, error) { return nil, ErrUnsupported }

// Elsewhere a Conn is never made (ErrUnsupported): Listen opens a plain
// socket.
func setReusePort(uintptr) error     { return nil }
func hasReusePort(*net.UDPConn) bool { return false }
func v6only(*net.UDPConn) bool       { return false }
func gsoEnabled(*Conn) bool          { return false }
