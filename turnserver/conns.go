package turnserver

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/turn/v4"
	"github.com/prometheus/client_golang/prometheus"
)

// loops counts the pion/turn goroutines that read from the sockets this
// server hands to pion, so Close can wait for them: pion's own Close only
// closes the sockets. A loop begins when pion is given its socket (or
// reads it first) and ends when its read fails or pion closes it.
type loops struct {
	running atomic.Int64
}

// gate is one loop's begin and end, each counted once.
type gate struct {
	l     *loops
	begin sync.Once
	end   sync.Once
}

func (g *gate) started() { g.begin.Do(func() { g.l.running.Add(1) }) }

func (g *gate) stopped() {
	g.begin.Do(func() {}) // A loop that never began is not counted at all.
	g.end.Do(func() { g.l.running.Add(-1) })
}

// wait polls until no loop runs or the deadline passes, and reports
// whether they all ended.
func (l *loops) wait(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for l.running.Load() > 0 {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(2 * time.Millisecond)
	}

	return true
}

// trackedPacketConn is a listening UDP socket given to pion, whose read
// loop ends on the first read error.
type trackedPacketConn struct {
	net.PacketConn
	gate *gate
}

func (c *trackedPacketConn) ReadFrom(p []byte) (int, net.Addr, error) {
	n, addr, err := c.PacketConn.ReadFrom(p)
	if err != nil {
		c.gate.stopped()
	}

	return n, addr, err
}

// trackedListener is a TCP or TLS listener given to pion: its accept loop
// ends on the first accept error, and each accepted connection is a loop
// of its own that ends when pion closes it. Shutdown closes the
// connections pion still holds, since closing the listener does not.
type trackedListener struct {
	net.Listener
	loops *loops
	gate  *gate

	mu     sync.Mutex
	conns  map[*trackedConn]struct{}
	closed bool
}

func (l *trackedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		l.gate.stopped()

		return nil, err
	}
	tc := &trackedConn{Conn: c, owner: l, gate: &gate{l: l.loops}}
	tc.gate.started()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		_ = c.Close()
		tc.gate.stopped()

		return nil, net.ErrClosed
	}
	l.conns[tc] = struct{}{}
	l.mu.Unlock()

	return tc, nil
}

// shutdown closes the listener and every connection pion still holds.
func (l *trackedListener) shutdown() error {
	l.mu.Lock()
	l.closed = true
	conns := make([]*trackedConn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	err := l.Listener.Close()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	for _, c := range conns {
		_ = c.Conn.Close() // pion's goroutine then fails its read and calls Close.
	}

	return err
}

// trackedConn is an accepted connection; pion closes it when its read loop
// is done.
type trackedConn struct {
	net.Conn
	owner *trackedListener
	gate  *gate
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.owner.mu.Lock()
	delete(c.owner.conns, c)
	c.owner.mu.Unlock()
	c.gate.stopped()

	return err
}

// relayGenerator wraps a pion RelayAddressGenerator so relay sockets count
// relayed bytes and their read loops are tracked.
type relayGenerator struct {
	turn.RelayAddressGenerator
	loops     *loops
	fromPeers prometheus.Counter
	toPeers   prometheus.Counter
}

func (g *relayGenerator) AllocatePacketConn(network string, port int) (net.PacketConn, net.Addr, error) {
	conn, addr, err := g.RelayAddressGenerator.AllocatePacketConn(network, port)
	if err != nil {
		return nil, nil, err
	}

	return &relayConn{PacketConn: conn, g: g, gate: &gate{l: g.loops}}, addr, nil
}

// relayConn is a relay socket: pion's allocation reads it in one loop
// until it fails, and writes what clients send to their peers.
type relayConn struct {
	net.PacketConn
	g    *relayGenerator
	gate *gate
}

func (c *relayConn) ReadFrom(p []byte) (int, net.Addr, error) {
	c.gate.started()
	n, addr, err := c.PacketConn.ReadFrom(p)
	if err != nil {
		c.gate.stopped()

		return n, addr, err
	}
	c.g.fromPeers.Add(float64(n))

	return n, addr, nil
}

func (c *relayConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	n, err := c.PacketConn.WriteTo(p, addr)
	if n > 0 {
		c.g.toPeers.Add(float64(n))
	}

	return n, err
}
