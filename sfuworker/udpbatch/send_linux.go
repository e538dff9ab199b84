//go:build linux && (amd64 || arm64)

package udpbatch

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsghdr is struct mmsghdr of sendmmsg(2) on 64-bit Linux.
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
	_   [4]byte
}

// mmsgSender sends a batch with sendmmsg(2) through the socket's raw
// connection, so Go's poller waits when the socket buffer is full. It
// writes the destinations itself rather than through
// golang.org/x/net/ipv4's WriteBatch, which encodes an IPv4 destination
// as AF_INET even on a dual-stack AF_INET6 socket (the worker's
// "udp" socket), where the kernel refuses it. Its arrays are reused: one
// sendBatch at a time (Conn.sendMu), no allocation.
type mmsgSender struct {
	rc     syscall.RawConn
	family int
	hdrs   [Size]mmsghdr
	iovs   [Size]unix.Iovec
	sa4    [Size]unix.RawSockaddrInet4
	sa6    [Size]unix.RawSockaddrInet6

	// The call in progress, for write, which is made once.
	n     int
	sent  int
	errno syscall.Errno
	write func(fd uintptr) bool
}

func newSender(u *net.UDPConn) (sender, error) {
	rc, err := u.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnsupported, err)
	}
	s := &mmsgSender{rc: rc}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		s.family, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_DOMAIN)
	}); err != nil || serr != nil {
		return nil, fmt.Errorf("%w: socket family: %w", ErrUnsupported, errors.Join(err, serr))
	}
	if s.family != unix.AF_INET && s.family != unix.AF_INET6 {
		return nil, ErrUnsupported
	}
	s.write = func(fd uintptr) bool {
		r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&s.hdrs[0])), uintptr(s.n), 0, 0, 0)
		if e == unix.EAGAIN || e == unix.EINTR {
			return false // Wait until the socket can take more.
		}
		s.sent, s.errno = int(r), e
		return true
	}
	return s, nil
}

// sendBatch sends b's packets; it returns how many went, at least one
// unless err says why the first could not.
func (s *mmsgSender) sendBatch(b *batch) (int, error) {
	n := 0
	for i := 0; i < b.n; i++ {
		h := &s.hdrs[n]
		h.len = 0
		h.hdr = unix.Msghdr{}
		a := b.addrs[i]
		switch {
		case s.family == unix.AF_INET6:
			sa := &s.sa6[n]
			sa.Family = unix.AF_INET6
			sa.Addr = a.Addr().As16() // IPv4 as IPv4-mapped.
			putPort(&sa.Port, a.Port())
			h.hdr.Name = (*byte)(unsafe.Pointer(sa))
			h.hdr.Namelen = unix.SizeofSockaddrInet6
		case a.Addr().Unmap().Is4():
			sa := &s.sa4[n]
			sa.Family = unix.AF_INET
			sa.Addr = a.Addr().Unmap().As4()
			putPort(&sa.Port, a.Port())
			h.hdr.Name = (*byte)(unsafe.Pointer(sa))
			h.hdr.Namelen = unix.SizeofSockaddrInet4
		default:
			// An IPv6 destination on an IPv4 socket: it cannot go.
			if n == 0 {
				return 1, unix.EAFNOSUPPORT
			}
		}
		if h.hdr.Name == nil {
			break // Send what precedes; the caller comes back to it.
		}
		iov := &s.iovs[n]
		iov.Base = &b.bufs[i][0]
		iov.SetLen(b.lens[i])
		h.hdr.Iov = iov
		h.hdr.SetIovlen(1)
		n++
	}
	s.n, s.sent, s.errno = n, 0, 0
	if err := s.rc.Write(s.write); err != nil {
		return 0, err
	}
	if s.errno != 0 {
		return 0, s.errno
	}
	return s.sent, nil
}

// putPort stores a port in network byte order.
func putPort(p *uint16, port uint16) {
	b := (*[2]byte)(unsafe.Pointer(p))
	b[0], b[1] = byte(port>>8), byte(port)
}
