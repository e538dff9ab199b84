//go:build linux && (amd64 || arm64)

package udpbatch

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
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

	// UDP GSO (UDP_SEGMENT, Linux 4.18): consecutive packets of a batch
	// to one destination, of one size (the last may be shorter), go as
	// one message the kernel cuts into datagrams; see group.
	gso   bool
	ctrl  [Size][gsoCmsgSpace]byte
	msgs  [Size]gsoMsg
	msgOf [Size]int32
	open  map[netip.AddrPort]int32

	// The call in progress, for write, which is made once.
	off   int
	n     int
	sent  int
	errno syscall.Errno
	write func(fd uintptr) bool

	// dry, if set, is called when a read finds nothing to read, before
	// the reader waits (Conn.flushDry).
	dry func()

	// The read in progress (readFrom), under readMu.
	readMu sync.Mutex
	rbuf   []byte
	rsa    unix.RawSockaddrAny
	rsalen uint32
	rn     int
	rerr   syscall.Errno
	read   func(fd uintptr) bool

	// The single send in progress (sendTo), under writeMu.
	writeMu sync.Mutex
	wbuf    []byte
	wsa     unix.RawSockaddrAny
	wsalen  uint32
	wn      int
	werr    syscall.Errno
	sendOne func(fd uintptr) bool
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
	// The kernel knows UDP_SEGMENT if it can read it (quic-go's probe).
	if err := rc.Control(func(fd uintptr) {
		_, serr = unix.GetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_SEGMENT)
	}); err == nil && serr == nil {
		s.gso = true
		s.open = make(map[netip.AddrPort]int32, Size)
	}
	s.write = func(fd uintptr) bool {
		// A raw system call, without the scheduler's entersyscall: the
		// socket is non-blocking, so the call cannot block, and a
		// scheduled one would wake the runtime's monitor thread from its
		// sleep at the first system call after every idle moment (see
		// rawRead).
		r, _, e := unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&s.hdrs[s.off])), uintptr(s.n-s.off), 0, 0, 0)
		if e == unix.EAGAIN || e == unix.EINTR {
			return false // Wait until the socket can take more.
		}
		s.sent, s.errno = int(r), e
		return true
	}
	s.read = func(fd uintptr) bool {
		s.rn, s.rerr = 0, 0
		s.rsalen = unix.SizeofSockaddrAny
		r, _, e := unix.RawSyscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&s.rbuf[0])), uintptr(len(s.rbuf)), 0,
			uintptr(unsafe.Pointer(&s.rsa)), uintptr(unsafe.Pointer(&s.rsalen)))
		if e == unix.EAGAIN || e == unix.EINTR {
			if e == unix.EAGAIN && s.dry != nil {
				s.dry()
			}
			return false // Let the poller wait for the next datagram.
		}
		s.rn, s.rerr = int(r), e
		return true
	}
	s.sendOne = func(fd uintptr) bool {
		r, _, e := unix.RawSyscall6(unix.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&s.wbuf[0])), uintptr(len(s.wbuf)), 0,
			uintptr(unsafe.Pointer(&s.wsa)), uintptr(s.wsalen))
		if e == unix.EAGAIN || e == unix.EINTR {
			return false
		}
		s.wn, s.werr = int(r), e
		return true
	}
	return s, nil
}

func (s *mmsgSender) setDry(f func()) { s.dry = f }

// readFrom reads one datagram, as net.UDPConn.ReadFromUDPAddrPort does
// (an IPv4 peer on a dual-stack socket comes as IPv4-mapped), but with a
// raw system call in the poller's callback. The scheduled system call
// the net package makes wakes Go's monitor thread (sysmon) whenever it
// is the first after the process was idle, and the monitor then polls
// every 20 µs for a millisecond or more: on a worker that wakes for
// every incoming packet that was most of its context switches. One read
// at a time (the ICE mux has one reader).
func (s *mmsgSender) readFrom(b []byte) (int, netip.AddrPort, error) {
	s.readMu.Lock()
	defer s.readMu.Unlock()
	s.rbuf = b
	err := s.rc.Read(s.read)
	s.rbuf = nil
	if err != nil {
		return 0, netip.AddrPort{}, err
	}
	if s.rerr != 0 {
		return 0, netip.AddrPort{}, &net.OpError{Op: "read", Net: "udp", Err: os.NewSyscallError("recvfrom", s.rerr)}
	}
	return s.rn, sockaddrToAddrPort(&s.rsa), nil
}

// sendTo sends one datagram with a raw system call (see readFrom).
func (s *mmsgSender) sendTo(b []byte, addr netip.AddrPort) (int, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if len(b) == 0 {
		return 0, nil
	}
	if !s.putSockaddr(addr) {
		return 0, &net.OpError{Op: "write", Net: "udp", Err: unix.EAFNOSUPPORT}
	}
	s.wbuf = b
	err := s.rc.Write(s.sendOne)
	s.wbuf = nil
	if err != nil {
		return 0, err
	}
	if s.werr != 0 {
		return 0, &net.OpError{Op: "write", Net: "udp", Err: os.NewSyscallError("sendto", s.werr)}
	}
	return s.wn, nil
}

// putSockaddr writes addr into wsa for the socket's family.
func (s *mmsgSender) putSockaddr(addr netip.AddrPort) bool {
	s.wsa = unix.RawSockaddrAny{}
	switch {
	case s.family == unix.AF_INET6:
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(&s.wsa))
		sa.Family = unix.AF_INET6
		sa.Addr = addr.Addr().As16()
		putPort(&sa.Port, addr.Port())
		s.wsalen = unix.SizeofSockaddrInet6
	case addr.Addr().Unmap().Is4():
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&s.wsa))
		sa.Family = unix.AF_INET
		sa.Addr = addr.Addr().Unmap().As4()
		putPort(&sa.Port, addr.Port())
		s.wsalen = unix.SizeofSockaddrInet4
	default:
		return false
	}
	return true
}

// sockaddrToAddrPort decodes what recvfrom wrote.
func sockaddrToAddrPort(rsa *unix.RawSockaddrAny) netip.AddrPort {
	switch rsa.Addr.Family {
	case unix.AF_INET:
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), getPort(&sa.Port))
	case unix.AF_INET6:
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		a := netip.AddrFrom16(sa.Addr)
		if sa.Scope_id != 0 {
			a = a.WithZone(zoneName(sa.Scope_id))
		}
		return netip.AddrPortFrom(a, getPort(&sa.Port))
	}
	return netip.AddrPort{}
}

// zoneName names an interface index as the net package does.
func zoneName(index uint32) string {
	if ifi, err := net.InterfaceByIndex(int(index)); err == nil {
		return ifi.Name
	}
	return strconv.FormatUint(uint64(index), 10)
}

// getPort reads a port in network byte order.
func getPort(p *uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(p))
	return uint16(b[0])<<8 | uint16(b[1])
}

// gsoMsg is one message of a batch: packets to one destination.
type gsoMsg struct {
	first int32 // The first packet's index in the batch.
	count int32 // Packets, in order; their iovecs follow each other.
	iov   int32 // The first iovec's index.
	size  int32 // Every packet's length but the last's (the GSO size).
	bytes int32
	short bool // The last packet is shorter: nothing may follow.
}

// gsoCmsgSpace holds one UDP_SEGMENT control message (a uint16).
const gsoCmsgSpace = 24

// gsoMaxSegments and gsoMaxBytes bound one GSO message (the kernel's
// UDP_MAX_SEGMENTS is at least 64; a datagram at most 64 KiB).
const (
	gsoMaxSegments = 64
	gsoMaxBytes    = 60000
)

// group assigns the batch's packets to messages: with GSO, a packet joins
// the open message of its destination when it is no longer than that
// message's size, which no shorter packet has ended; otherwise it opens a
// new one. The order of packets to one destination is kept (a later
// message of a destination goes after the earlier); packets to different
// destinations may go in another order than queued. It returns the
// number of messages and of packets that cannot go, and fills the
// iovecs.
func (s *mmsgSender) group(b *batch) (n, dropped int) {
	if s.gso {
		clear(s.open)
	}
	for i := 0; i < b.n; i++ {
		l := int32(b.lens[i])
		if s.family == unix.AF_INET && !b.addrs[i].Addr().Unmap().Is4() {
			// An IPv6 destination on an IPv4 socket: it cannot go.
			s.msgOf[i] = -1
			dropped++
			continue
		}
		if s.gso {
			if m, ok := s.open[b.addrs[i]]; ok {
				g := &s.msgs[m]
				if l <= g.size && g.count < gsoMaxSegments && g.bytes+l <= gsoMaxBytes {
					g.count++
					g.bytes += l
					g.short = l < g.size
					s.msgOf[i] = m
					if g.short {
						delete(s.open, b.addrs[i])
					}
					continue
				}
			}
			s.open[b.addrs[i]] = int32(n)
		}
		s.msgs[n] = gsoMsg{first: int32(i), count: 1, size: l, bytes: l}
		s.msgOf[i] = int32(n)
		n++
	}
	// The iovecs of each message follow each other.
	iov := int32(0)
	for m := range n {
		s.msgs[m].iov = iov
		iov += s.msgs[m].count
		s.msgs[m].count = 0
	}
	for i := 0; i < b.n; i++ {
		if s.msgOf[i] < 0 {
			continue
		}
		g := &s.msgs[s.msgOf[i]]
		v := &s.iovs[g.iov+g.count]
		v.Base = &b.bufs[i][0]
		v.SetLen(b.lens[i])
		g.count++
	}
	return n, dropped
}

// sendBatch sends b's packets: as many messages as group makes, in one
// sendmmsg when the socket takes them all. A message the kernel refuses
// (an unreachable destination, say) is dropped, as a lost datagram, and
// the rest go on; it returns how many messages it made, how many packets
// were dropped, and the last error.
func (s *mmsgSender) sendBatch(b *batch) (msgs, dropped int, lastErr error) {
	n, dropped := s.group(b)
	if dropped > 0 {
		lastErr = unix.EAFNOSUPPORT
	}
	for m := range n {
		g := &s.msgs[m]
		h := &s.hdrs[m]
		h.len = 0
		h.hdr = unix.Msghdr{}
		a := b.addrs[g.first]
		if s.family == unix.AF_INET6 {
			sa := &s.sa6[m]
			*sa = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: a.Addr().As16()} // IPv4 as IPv4-mapped.
			putPort(&sa.Port, a.Port())
			h.hdr.Name = (*byte)(unsafe.Pointer(sa))
			h.hdr.Namelen = unix.SizeofSockaddrInet6
		} else {
			sa := &s.sa4[m]
			*sa = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: a.Addr().Unmap().As4()}
			putPort(&sa.Port, a.Port())
			h.hdr.Name = (*byte)(unsafe.Pointer(sa))
			h.hdr.Namelen = unix.SizeofSockaddrInet4
		}
		h.hdr.Iov = &s.iovs[g.iov]
		h.hdr.SetIovlen(int(g.count))
		if g.count > 1 {
			c := &s.ctrl[m]
			ch := (*unix.Cmsghdr)(unsafe.Pointer(&c[0]))
			ch.Level, ch.Type = unix.SOL_UDP, unix.UDP_SEGMENT
			ch.SetLen(unix.CmsgLen(2))
			*(*uint16)(unsafe.Pointer(&c[unix.CmsgLen(0)])) = uint16(g.size)
			h.hdr.Control = &c[0]
			h.hdr.SetControllen(unix.CmsgSpace(2))
		}
	}
	for off := 0; off < n; {
		s.off, s.n, s.sent, s.errno = off, n, 0, 0
		if err := s.rc.Write(s.write); err != nil {
			for m := off; m < n; m++ {
				dropped += int(s.msgs[m].count)
			}
			return n, dropped, err
		}
		if s.errno != 0 {
			g := &s.msgs[off]
			dropped += int(g.count)
			lastErr = s.errno
			if g.count > 1 && (s.errno == unix.EIO || s.errno == unix.EINVAL || s.errno == unix.ENOPROTOOPT) {
				// The route's device cannot segment: no GSO from now on.
				s.gso = false
			}
			off++
			continue
		}
		off += max(s.sent, 1)
	}
	return n, dropped, lastErr
}

// putPort stores a port in network byte order.
func putPort(p *uint16, port uint16) {
	b := (*[2]byte)(unsafe.Pointer(p))
	b[0], b[1] = byte(port>>8), byte(port)
}

// setReusePort sets SO_REUSEPORT on a socket before it is bound.
func setReusePort(fd uintptr) error {
	return unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
}

// hasReusePort reports whether u was bound with SO_REUSEPORT.
func hasReusePort(u *net.UDPConn) bool {
	return sockopt(u, unix.SOL_SOCKET, unix.SO_REUSEPORT) == 1
}

// v6only reports whether u is an IPv6 socket that takes no IPv4.
func v6only(u *net.UDPConn) bool {
	return sockopt(u, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY) == 1
}

// sockopt reads an integer socket option, -1 if it cannot.
func sockopt(u *net.UDPConn, level, opt int) int {
	rc, err := u.SyscallConn()
	if err != nil {
		return -1
	}
	v, serr := -1, error(nil)
	if err := rc.Control(func(fd uintptr) { v, serr = unix.GetsockoptInt(int(fd), level, opt) }); err != nil || serr != nil {
		return -1
	}
	return v
}

// gsoEnabled reports whether c sends with UDP GSO.
func gsoEnabled(c *Conn) bool {
	s, ok := c.send.(*mmsgSender)
	return ok && s.gso
}
