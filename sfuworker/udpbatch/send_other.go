//go:build !(linux && (amd64 || arm64))

package udpbatch

import "net"

func newSender(*net.UDPConn) (sender, error) { return nil, ErrUnsupported }
