package udpbatch

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"runtime"
	"syscall"
	"time"
)

// Several readers on one port.
//
// The worker forwards a publisher's packet in the goroutine that read it
// (the intercept), so one reader would hold a worker to one processor.
// When the socket has SO_REUSEPORT (Listen sets it), New opens more
// sockets on the same address, one per processor, and reads each in its
// own goroutine: the kernel hands each remote address's datagrams to one
// of them, so a member's packets stay in order, and members spread over
// processors. What the intercept does not take goes, copied, to the one
// reader pion's mux runs (ReadFromAddrPort). Sends all go through the
// first socket; they leave from the same port.

// maxReaders bounds the sockets per port.
const maxReaders = 8

// queued is a datagram a reader passes to ReadFromAddrPort.
type queued struct {
	n    int
	from netip.AddrPort
	buf  []byte
}

// readBuf is the size of a reader's buffer and of a queued datagram's
// (pion's mux reads up to 8,192 bytes).
const readBuf = 8192

// Listen opens a UDP socket with SO_REUSEPORT, so that New can read it
// with one socket per processor.
func Listen(ctx context.Context, network, addr string) (net.PacketConn, error) {
	return reusePort.ListenPacket(ctx, network, addr)
}

var reusePort = net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) { serr = setReusePort(fd) }); err != nil {
		return err
	}
	return serr
}}

// startReaders opens the extra sockets and starts a reader on each
// socket, when the socket allows it and there is more than one processor
// (readers: 0 for one per processor); otherwise ReadFromAddrPort reads
// the socket itself.
func (c *Conn) startReaders(readers int) {
	if readers <= 0 {
		readers = min(runtime.GOMAXPROCS(0), maxReaders)
	}
	if readers < 2 || !hasReusePort(c.udp) {
		return
	}
	a := c.udp.LocalAddr().(*net.UDPAddr)
	network := "udp"
	switch {
	case a.IP.To4() != nil:
		network = "udp4"
	case v6only(c.udp):
		network = "udp6"
	}
	socks := []*net.UDPConn{c.udp}
	senders := []sender{c.send}
	for range readers - 1 {
		pc, err := reusePort.ListenPacket(context.Background(), network, a.String())
		if err != nil {
			c.log.Info("udpbatch: one reader only", "err", err)
			break
		}
		u := pc.(*net.UDPConn)
		s, err := newSender(u)
		if err != nil {
			_ = u.Close()
			break
		}
		socks = append(socks, u)
		senders = append(senders, s)
		c.extra = append(c.extra, u)
	}
	if len(socks) < 2 {
		return
	}
	c.in = make(chan *queued, 1024)
	c.pool.New = func() any { return &queued{buf: make([]byte, readBuf)} }
	c.readers.Add(len(socks))
	for _, s := range senders {
		s.setDry(c.Flush)
		go c.readLoop(s)
	}
	go func() {
		c.readers.Wait()
		close(c.in)
	}()
}

// readLoop reads one socket until it is closed: the intercept's packets
// there, the rest to ReadFromAddrPort.
func (c *Conn) readLoop(s sender) {
	defer c.readers.Done()
	buf := make([]byte, readBuf)
	for {
		n, from, err := s.readFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || c.closing.Load() {
				return
			}
			continue // A transient error (an ICMP refusal, say).
		}
		if c.take(buf[:n], from) {
			continue
		}
		q := c.pool.Get().(*queued)
		q.n, q.from = copy(q.buf, buf[:n]), from
		select {
		case c.in <- q:
		default:
			// pion's reader is behind: dropped, as a full socket would.
			c.pool.Put(q)
			c.drops.Add(1)
		}
	}
}

// take offers b to the intercept.
func (c *Conn) take(b []byte, from netip.AddrPort) bool {
	f := c.intercept.Load()
	if f == nil || len(b) < 8 || b[0]>>6 != 2 {
		return false
	}
	c.reading.Add(1)
	took := (*f)(b, from)
	c.reading.Add(-1)
	return took
}

// readQueued is ReadFromAddrPort with several readers.
func (c *Conn) readQueued(b []byte) (int, netip.AddrPort, error) {
	var timeout <-chan time.Time
	if d := c.deadline.Load(); d != nil && !d.IsZero() {
		wait := time.Until(*d)
		if wait <= 0 {
			return 0, netip.AddrPort{}, &net.OpError{Op: "read", Net: "udp", Err: os.ErrDeadlineExceeded}
		}
		t := time.NewTimer(wait)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case q, ok := <-c.in:
		if !ok {
			return 0, netip.AddrPort{}, &net.OpError{Op: "read", Net: "udp", Err: net.ErrClosed}
		}
		n, from := copy(b, q.buf[:q.n]), q.from
		c.pool.Put(q)
		return n, from, nil
	case <-timeout:
		return 0, netip.AddrPort{}, &net.OpError{Op: "read", Net: "udp", Err: os.ErrDeadlineExceeded}
	}
}

// closeReaders closes the extra sockets; the first is the caller's.
func (c *Conn) closeReaders() {
	c.closing.Store(true)
	for _, u := range c.extra {
		_ = u.Close()
	}
}
