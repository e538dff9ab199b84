// Package udpbatch sends the RTP a worker forwards in batches: one
// sendmmsg(2) for many packets to many destinations on the worker's one
// UDP socket, instead of one sendto(2) per packet per subscriber.
package udpbatch

import (
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Size is the most packets one batch holds, and one sendmmsg sends: the
// fan-out of a video frame's packets (about 6) to 50 subscribers.
const Size = 320

// DefaultDelay bounds how long a queued packet waits for the batch to be
// flushed when nothing flushes it sooner. The worker flushes at the end
// of each fan-out, so this is a safety net, and long: a first version's
// 500 µs timer fired for most batches, and its goroutine wake-ups cost
// more CPU than the batching saved. The timer is stopped by the flush
// that comes first, so it rarely fires at all.
const DefaultDelay = 10 * time.Millisecond

// maxPacket is the largest packet a batch slot holds; larger ones are
// sent at once.
const maxPacket = 1500

// Config configures a Conn.
type Config struct {
	// Delay is the longest a packet waits in a batch (DefaultDelay if 0).
	Delay time.Duration
	// Readers is how many sockets on the port are read at once, each by
	// its own goroutine (readers.go): 0 for one per processor, 1 for the
	// socket alone. More than one needs SO_REUSEPORT on the socket
	// (Listen).
	Readers int
	Logger  *slog.Logger
}

// Conn wraps a UDP socket: RTP packets written to it (RFC 3550 version 2
// and not an RTCP packet type, RFC 5761 section 4) are copied into a
// batch, which goes out in one system call when it is full, when Flush
// is called (at the end of the fan-out of one incoming packet), or at
// the latest Delay later. Everything else (STUN, DTLS, RTCP) is
// sent at once. Reads and single sends are raw system calls in the
// poller's callbacks (see mmsgSender.readFrom for why). It
// implements net.PacketConn and the netip.AddrPort reads and writes that
// pion's ICE UDP mux uses when a connection has them.
//
// Life cycle: New, then any number of concurrent writes and Flush calls;
// Stop flushes and stops the sweeper, Close also closes the socket.
type Conn struct {
	udp   *net.UDPConn
	send  sender
	delay time.Duration
	log   *slog.Logger

	mu  sync.Mutex // Guards cur and armed.
	cur *batch
	// sweeper flushes a batch Delay after its first packet unless a
	// Flush came first and stopped it (armed says it is running): in
	// steady state it never fires, so an idle worker is not woken
	// every Delay.
	sweeper *time.Timer
	armed   bool
	// sendMu serializes sends; its holder owns spare.
	sendMu sync.Mutex
	spare  *batch

	closed atomic.Bool

	// intercept, if set, is offered every RTP packet read before the
	// reader gets it (SetIntercept); reading counts the readers in it.
	intercept atomic.Pointer[Intercept]
	reading   atomic.Int32

	// With several readers (readers.go): the sockets besides udp, the
	// datagrams the intercept did not take, on their way to
	// ReadFromAddrPort, and the read deadline there.
	extra    []*net.UDPConn
	in       chan *queued
	pool     sync.Pool
	readers  sync.WaitGroup
	closing  atomic.Bool
	deadline atomic.Pointer[time.Time]
	drops    atomic.Uint64

	batches, packets, msgs, errs atomic.Uint64
}

// Intercept takes an RTP or RTCP packet (version 2) read from the socket
// out of the read stream: it returns true when it has dealt with the
// packet, which the reader then does not see. It runs on the reading goroutine (pion's UDP
// mux has one), with b valid only during the call, and must not block.
type Intercept func(b []byte, from netip.AddrPort) bool

type batch struct {
	n     int
	lens  [Size]int
	addrs [Size]netip.AddrPort
	bufs  [Size][maxPacket]byte
}

// sender sends the first n packets of a batch; it is the platform's
// batched send.
type sender interface {
	// sendBatch sends all of b's packets but those it drops, as lost
	// datagrams, when the kernel refuses them.
	// It returns the messages it made (fewer than packets with GSO).
	sendBatch(b *batch) (msgs, dropped int, err error)
	// sendTo and readFrom are one datagram's send and read.
	sendTo(b []byte, addr netip.AddrPort) (int, error)
	readFrom(b []byte) (int, netip.AddrPort, error)
	// setDry makes a read call f when the socket has nothing to read,
	// before it waits.
	setDry(f func())
}

// New wraps udp; it returns ErrUnsupported where batches cannot be sent.
func New(udp net.PacketConn, cfg Config) (*Conn, error) {
	u, ok := udp.(*net.UDPConn)
	if !ok {
		return nil, ErrUnsupported
	}
	s, err := newSender(u)
	if err != nil {
		return nil, err
	}
	if cfg.Delay <= 0 {
		cfg.Delay = DefaultDelay
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Conn{udp: u, send: s, delay: cfg.Delay, log: cfg.Logger, cur: &batch{}, spare: &batch{}}
	c.sweeper = time.AfterFunc(time.Hour, c.sweep)
	c.sweeper.Stop()
	s.setDry(c.Flush)
	c.startReaders(cfg.Readers)
	return c, nil
}

// isRTP reports whether b is an RTP packet: version 2, and a second
// octet outside RTCP's packet types 192–223 (RFC 5761 section 4).
func isRTP(b []byte) bool {
	return len(b) >= 12 && b[0]>>6 == 2 && (b[1] < 192 || b[1] > 223)
}

// WriteToAddrPort queues an RTP packet, or sends anything else at once.
func (c *Conn) WriteToAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	if !isRTP(b) || len(b) > maxPacket || c.closed.Load() {
		return c.send.sendTo(b, addr)
	}
	c.mu.Lock()
	for c.cur.n == Size {
		// Full, and its writer's flush has not swapped it out yet.
		c.mu.Unlock()
		c.Flush()
		c.mu.Lock()
	}
	q := c.cur
	i := q.n
	q.lens[i] = copy(q.bufs[i][:], b)
	q.addrs[i] = addr
	q.n++
	if !c.armed {
		c.armed = true
		c.sweeper.Reset(c.delay)
	}
	full := q.n == Size
	c.mu.Unlock()
	if full {
		c.Flush()
	}
	return len(b), nil
}

// WriteTo implements net.PacketConn.
func (c *Conn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if a, ok := addr.(*net.UDPAddr); ok {
		return c.WriteToAddrPort(b, a.AddrPort())
	}
	return c.udp.WriteTo(b, addr)
}

// Flush sends what is queued.
func (c *Conn) Flush() {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	c.mu.Lock()
	if c.cur.n == 0 {
		c.mu.Unlock()
		return
	}
	q := c.cur
	c.cur, c.spare = c.spare, q
	if c.armed {
		c.armed = false
		c.sweeper.Stop()
	}
	c.mu.Unlock()
	c.batches.Add(1)
	c.packets.Add(uint64(q.n))
	msgs, dropped, err := c.send.sendBatch(q)
	c.msgs.Add(uint64(msgs))
	if dropped > 0 {
		if c.errs.Add(uint64(dropped)) <= 10 {
			c.log.Debug("udpbatch: send", "dropped", dropped, "err", err)
		}
	}
	q.n = 0
}

// FlushSoon is Flush, unless the socket's reader is handing a packet to
// the intercept: the packets queued then go out together when its reads
// run dry, before it waits for the next datagram. The worker forwards a
// publisher's packets from the intercept, so the fan-out of a whole
// video frame (its packets arrive back to back) leaves in one sendmmsg,
// and each subscriber's share of it in one GSO message.
func (c *Conn) FlushSoon() {
	if c.reading.Load() > 0 {
		return
	}
	c.Flush()
}

// sweep flushes a batch that nothing else flushed within Delay.
func (c *Conn) sweep() {
	c.mu.Lock()
	c.armed = false
	c.mu.Unlock()
	c.Flush()
}

// Stats are counters of a Conn: batches sent, RTP packets they carried,
// the messages (GSO or single datagrams) those made, and packets dropped
// on a send error.
// Overruns counts datagrams the readers dropped because pion's reader
// was behind, and Readers is the number of sockets read.
type Stats struct {
	Batches, Packets, Messages, Errors, Overruns uint64
	Readers                                      int
}

// Stats returns the counters.
func (c *Conn) Stats() Stats {
	return Stats{c.batches.Load(), c.packets.Load(), c.msgs.Load(), c.errs.Load(), c.drops.Load(), 1 + len(c.extra)}
}

// SetIntercept makes f see every RTP and RTCP packet read before the
// reader does
// (nil: none). The worker reads its publishers' media this way, below
// pion's receive pipeline (sfu/fastread.go).
func (c *Conn) SetIntercept(f Intercept) {
	if f == nil {
		c.intercept.Store(nil)
		return
	}
	c.intercept.Store(&f)
}

// ReadFromAddrPort reads from the socket (with several readers, what
// they did not give the intercept); packets the intercept takes are not
// returned.
func (c *Conn) ReadFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	if c.in != nil {
		return c.readQueued(b)
	}
	for {
		n, from, err := c.send.readFrom(b)
		if err != nil {
			return n, from, err
		}
		if !c.take(b[:n], from) {
			return n, from, nil
		}
	}
}

// ReadFrom implements net.PacketConn.
func (c *Conn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, from, err := c.ReadFromAddrPort(b)
	if err != nil {
		return n, nil, err
	}
	return n, net.UDPAddrFromAddrPort(from), nil
}

// LocalAddr implements net.PacketConn.
func (c *Conn) LocalAddr() net.Addr { return c.udp.LocalAddr() }

// SetDeadline implements net.PacketConn.
func (c *Conn) SetDeadline(t time.Time) error {
	c.deadline.Store(&t)
	if c.in != nil {
		return c.udp.SetWriteDeadline(t)
	}
	return c.udp.SetDeadline(t)
}

// SetReadDeadline implements net.PacketConn.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.deadline.Store(&t)
	if c.in != nil {
		return nil // The readers wait for datagrams, not for the caller.
	}
	return c.udp.SetReadDeadline(t)
}

// SetWriteDeadline implements net.PacketConn.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.udp.SetWriteDeadline(t) }

// Stop flushes what is queued and stops the sweeper; later writes go
// out one by one. It closes the sockets New opened, but leaves the
// caller's open (its reader ends when the caller closes it). Idempotent.
func (c *Conn) Stop() {
	if c.closed.Swap(true) {
		return
	}
	c.Flush()
	c.mu.Lock()
	c.armed = false
	c.sweeper.Stop()
	c.mu.Unlock()
	c.closeReaders()
}

// Close stops the Conn and closes the socket.
func (c *Conn) Close() error {
	c.Stop()
	return c.udp.Close()
}

var _ net.PacketConn = (*Conn)(nil)
