package udpbatch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"
)

func rtpPacket(seq uint16, size int) []byte {
	b := make([]byte, size)
	b[0], b[1] = 0x80, 96
	binary.BigEndian.PutUint16(b[2:], seq)
	for i := 12; i < size; i++ {
		b[i] = byte(seq) + byte(i)
	}
	return b
}

func listen(t *testing.T, network, addr string) *net.UDPConn {
	t.Helper()
	c, err := net.ListenPacket(network, addr)
	if err != nil {
		t.Skipf("no %s socket: %v", network, err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.UDPConn)
}

func newConn(t *testing.T, network, addr string, delay time.Duration) *Conn {
	t.Helper()
	c, err := New(listen(t, network, addr), Config{Delay: delay})
	if errors.Is(err, ErrUnsupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// receivers opens n IPv4 loopback sockets with room for bursts.
func receivers(t *testing.T, n int) ([]*net.UDPConn, []netip.AddrPort) {
	t.Helper()
	var rs []*net.UDPConn
	var addrs []netip.AddrPort
	for range n {
		r := listen(t, "udp4", "127.0.0.1:0")
		_ = r.SetReadBuffer(4 << 20)
		rs = append(rs, r)
		addrs = append(addrs, r.LocalAddr().(*net.UDPAddr).AddrPort())
	}
	return rs, addrs
}

// read receives n packets within a deadline.
func read(t *testing.T, r *net.UDPConn, n int) [][]byte {
	t.Helper()
	var got [][]byte
	buf := make([]byte, 2000)
	_ = r.SetReadDeadline(time.Now().Add(5 * time.Second))
	for len(got) < n {
		k, _, err := r.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("after %d of %d packets: %v", len(got), n, err)
		}
		got = append(got, bytes.Clone(buf[:k]))
	}
	return got
}

// TestBatchesReachEveryDestination: RTP to several destinations, more
// than one batch of it, arrives whole and in order at each, in fewer
// system calls than packets; the dual-stack socket sends to IPv4.
func TestBatchesReachEveryDestination(t *testing.T) {
	for _, tc := range []struct{ network, addr string }{{"udp4", "127.0.0.1:0"}, {"udp", ":0"}} {
		t.Run(tc.network, func(t *testing.T) {
			c := newConn(t, tc.network, tc.addr, time.Hour)
			rs, addrs := receivers(t, 3)
			const per = 50
			for i := range per {
				for j, a := range addrs {
					if _, err := c.WriteToAddrPort(rtpPacket(uint16(i*10+j), 200+i), a); err != nil {
						t.Fatal(err)
					}
				}
			}
			c.Flush()
			for j, r := range rs {
				for i, p := range read(t, r, per) {
					if want := rtpPacket(uint16(i*10+j), 200+i); !bytes.Equal(p, want) {
						t.Fatalf("destination %d packet %d: got %x… want %x…", j, i, p[:4], want[:4])
					}
				}
			}
			if st := c.Stats(); st.Packets != 3*per || st.Batches >= st.Packets || st.Errors != 0 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

// TestOnlyRTPWaits: RTCP and STUN go at once; RTP waits for a flush,
// which the delay brings when nothing else does.
func TestOnlyRTPWaits(t *testing.T) {
	c := newConn(t, "udp4", "127.0.0.1:0", time.Hour)
	r := listen(t, "udp4", "127.0.0.1:0")
	to := r.LocalAddr().(*net.UDPAddr)
	rtcp := []byte{0x80, 200, 0, 6, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}
	stun := []byte{0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	if _, err := c.WriteToAddrPort(rtpPacket(1, 100), to.AddrPort()); err != nil {
		t.Fatal(err)
	}
	for _, p := range [][]byte{rtcp, stun} {
		if _, err := c.WriteTo(p, to); err != nil {
			t.Fatal(err)
		}
	}
	got := read(t, r, 2)
	if !bytes.Equal(got[0], rtcp) || !bytes.Equal(got[1], stun) {
		t.Fatalf("got %x, %x first", got[0], got[1])
	}
	c.Flush()
	if got := read(t, r, 1); !bytes.Equal(got[0], rtpPacket(1, 100)) {
		t.Fatalf("got %x", got[0])
	}

	d := newConn(t, "udp4", "127.0.0.1:0", time.Millisecond)
	if _, err := d.WriteToAddrPort(rtpPacket(2, 100), to.AddrPort()); err != nil {
		t.Fatal(err)
	}
	if got := read(t, r, 1); !bytes.Equal(got[0], rtpPacket(2, 100)) {
		t.Fatalf("got %x", got[0])
	}
}

// TestWriteAllocatesNothing: queueing and sending a batch allocate
// nothing.
func TestWriteAllocatesNothing(t *testing.T) {
	c := newConn(t, "udp", ":0", time.Hour)
	r := listen(t, "udp4", "127.0.0.1:0")
	to := r.LocalAddr().(*net.UDPAddr).AddrPort()
	p := rtpPacket(1, 1100)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		buf := make([]byte, 2000)
		for {
			if _, _, err := r.ReadFromUDPAddrPort(buf); err != nil {
				return
			}
		}
	}()
	defer func() {
		r.Close()
		<-drained
	}()
	n := testing.AllocsPerRun(200, func() {
		for range 20 {
			_, _ = c.WriteToAddrPort(p, to)
		}
		c.Flush()
	})
	if n != 0 {
		t.Fatalf("%.1f allocations per batch of 20", n)
	}
}

// TestConcurrentWriters: writers racing past full batches lose nothing.
func TestConcurrentWriters(t *testing.T) {
	c := newConn(t, "udp4", "127.0.0.1:0", time.Millisecond)
	r := listen(t, "udp4", "127.0.0.1:0")
	_ = r.SetReadBuffer(4 << 20)
	to := r.LocalAddr().(*net.UDPAddr).AddrPort()
	const writers, per = 8, 100
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				_, _ = c.WriteToAddrPort(rtpPacket(uint16(w*per+i), 100), to)
			}
		}()
	}
	wg.Wait()
	c.Flush()
	seen := map[uint16]bool{}
	for _, p := range read(t, r, writers*per) {
		seen[binary.BigEndian.Uint16(p[2:])] = true
	}
	if len(seen) != writers*per {
		t.Fatalf("%d distinct packets of %d", len(seen), writers*per)
	}
}

// TestReadsAsTheNetPackageDoes: a datagram read through the Conn comes
// with the source address net.UDPConn would give (IPv4-mapped on a
// dual-stack socket), whatever the family; non-RTP sends go at once; a
// read deadline and Close end a waiting read; reads allocate nothing.
func TestReadsAsTheNetPackageDoes(t *testing.T) {
	for _, tc := range []struct{ network, addr, peerNet, peerAddr string }{
		{"udp4", "127.0.0.1:0", "udp4", "127.0.0.1:0"},
		{"udp", ":0", "udp4", "127.0.0.1:0"},
		{"udp6", "[::1]:0", "udp6", "[::1]:0"},
	} {
		t.Run(tc.network+"<-"+tc.peerNet, func(t *testing.T) {
			c := newConn(t, tc.network, tc.addr, time.Hour)
			peer := listen(t, tc.peerNet, tc.peerAddr)
			port := c.LocalAddr().(*net.UDPAddr).Port
			dst := netip.AddrPortFrom(peer.LocalAddr().(*net.UDPAddr).AddrPort().Addr(), uint16(port))
			// What the net package reports for the same datagram.
			ref := listen(t, tc.network, tc.addr)
			refDst := netip.AddrPortFrom(dst.Addr(), uint16(ref.LocalAddr().(*net.UDPAddr).Port))
			msg := []byte("stun-or-dtls")
			if _, err := peer.WriteToUDPAddrPort(msg, dst); err != nil {
				t.Fatal(err)
			}
			if _, err := peer.WriteToUDPAddrPort(msg, refDst); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 2000)
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, from, err := c.ReadFromAddrPort(buf)
			if err != nil || !bytes.Equal(buf[:n], msg) {
				t.Fatalf("read %q, %v", buf[:n], err)
			}
			_ = ref.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, want, err := ref.ReadFromUDPAddrPort(buf)
			if err != nil {
				t.Fatal(err)
			}
			if from != want {
				t.Fatalf("source %v, the net package says %v", from, want)
			}
			// A reply goes at once, to that address.
			if _, err := c.WriteToAddrPort([]byte("reply"), from); err != nil {
				t.Fatal(err)
			}
			if got := read(t, peer, 1); string(got[0]) != "reply" {
				t.Fatalf("peer got %q", got[0])
			}
			allocs := testing.AllocsPerRun(50, func() {
				_, _ = peer.WriteToUDPAddrPort(msg, dst)
				_, _, _ = c.ReadFromAddrPort(buf)
			})
			if allocs != 0 {
				t.Fatalf("%.1f allocations per read", allocs)
			}
			_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			if _, _, err := c.ReadFromAddrPort(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("read past its deadline: %v", err)
			}
			_ = c.SetReadDeadline(time.Time{})
			done := make(chan error, 1)
			go func() {
				_, _, err := c.ReadFromAddrPort(buf)
				done <- err
			}()
			time.Sleep(20 * time.Millisecond)
			c.Close()
			select {
			case err := <-done:
				if !errors.Is(err, net.ErrClosed) {
					t.Fatalf("read on a closed conn: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("a waiting read outlived Close")
			}
		})
	}
}

// TestGSOKeepsEachDestinationsPackets: with UDP GSO, a batch's packets
// to one destination go as few messages, which the kernel cuts back into
// the same datagrams: each destination receives every packet whole and
// in order, whether sizes repeat (a video frame's), grow (which must
// start a new message), shrink (which must end one) or run past the most
// segments a message takes.
func TestGSOKeepsEachDestinationsPackets(t *testing.T) {
	var sizes []int
	for range 10 {
		sizes = append(sizes, 1150, 1150, 1150, 1150, 1150, 700) // A frame.
	}
	sizes = append(sizes, 1000, 1001, 1001, 999, 999, 80, 80, 1200)
	for range 100 {
		sizes = append(sizes, 300)
	}
	for _, tc := range []struct{ network, addr string }{{"udp4", "127.0.0.1:0"}, {"udp", ":0"}} {
		t.Run(tc.network, func(t *testing.T) {
			c := newConn(t, tc.network, tc.addr, time.Hour)
			if !gsoEnabled(c) {
				t.Skip("no UDP GSO here")
			}
			rs, addrs := receivers(t, 3)
			for i, size := range sizes {
				for j, a := range addrs {
					if _, err := c.WriteToAddrPort(rtpPacket(uint16(i*3+j), size), a); err != nil {
						t.Fatal(err)
					}
				}
			}
			c.Flush()
			for j, r := range rs {
				for i, p := range read(t, r, len(sizes)) {
					if want := rtpPacket(uint16(i*3+j), sizes[i]); !bytes.Equal(p, want) {
						t.Fatalf("destination %d packet %d: got %d bytes %x…, want %d bytes %x…", j, i, len(p), p[:4], len(want), want[:4])
					}
				}
			}
			st := c.Stats()
			if st.Packets != uint64(3*len(sizes)) || st.Errors != 0 || st.Messages*3 > st.Packets {
				t.Fatalf("stats %+v: want every packet, at least 3 per message", st)
			}
		})
	}
}

// TestFanOutFromTheInterceptLeavesWhenReadsRunDry: what the intercept
// writes while the reader hands it packets, with FlushSoon after each as
// the worker's fan-out does, waits until the reader finds the socket
// empty, and then leaves in one batch; the intercepted packets never
// reach the reader, anything else does.
func TestFanOutFromTheInterceptLeavesWhenReadsRunDry(t *testing.T) {
	c := newConn(t, "udp4", "127.0.0.1:0", time.Hour)
	rs, addrs := receivers(t, 3)
	var took int
	c.SetIntercept(func(b []byte, _ netip.AddrPort) bool {
		took++
		for _, a := range addrs {
			if _, err := c.WriteToAddrPort(b, a); err != nil {
				t.Error(err)
			}
		}
		c.FlushSoon()
		return true
	})
	src := listen(t, "udp4", "127.0.0.1:0")
	to := c.LocalAddr().(*net.UDPAddr)
	const n = 30
	for i := range n {
		if _, err := src.WriteTo(rtpPacket(uint16(i), 500), to); err != nil {
			t.Fatal(err)
		}
	}
	stun := []byte{0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	if _, err := src.WriteTo(stun, to); err != nil {
		t.Fatal(err)
	}
	// The datagrams wait in the socket; the reader starts now.
	buf := make([]byte, 1500)
	k, _, err := c.ReadFromAddrPort(buf)
	if err != nil || !bytes.Equal(buf[:k], stun) {
		t.Fatalf("the reader got %x, %v; want the STUN packet", buf[:k], err)
	}
	if took != n {
		t.Fatalf("the intercept took %d packets of %d", took, n)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _, _ = c.ReadFromAddrPort(buf) // Runs dry, flushes, waits.
	}()
	for j, r := range rs {
		for i, p := range read(t, r, n) {
			if want := rtpPacket(uint16(i), 500); !bytes.Equal(p, want) {
				t.Fatalf("destination %d packet %d: got %x…", j, i, p[:4])
			}
		}
	}
	if st := c.Stats(); st.Batches != 1 || st.Packets != 3*n {
		t.Fatalf("stats %+v: want the %d packets in one batch", st, 3*n)
	}
	_ = c.SetReadDeadline(time.Now())
	<-done
}

// TestSeveralReadersOnOnePort: a socket opened with Listen is read by
// one socket per reader on the same port. Each source's RTP reaches the
// intercept in order, whichever socket the kernel gave it to; what the
// intercept leaves reaches ReadFromAddrPort with its source; a read
// deadline and Close end a waiting read.
func TestSeveralReadersOnOnePort(t *testing.T) {
	pc, err := Listen(t.Context(), "udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(pc, Config{Readers: 4})
	if errors.Is(err, ErrUnsupported) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Stats().Readers; got != 4 {
		t.Fatalf("%d readers, want 4", got)
	}
	var mu sync.Mutex
	next := map[netip.AddrPort]uint16{}
	var outOfOrder, took int
	c.SetIntercept(func(b []byte, from netip.AddrPort) bool {
		if b[1] >= 192 && b[1] <= 223 {
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		if seq := binary.BigEndian.Uint16(b[2:]); seq != next[from] {
			outOfOrder++
		} else {
			next[from] = seq + 1
		}
		took++
		return true
	})
	to := c.LocalAddr().(*net.UDPAddr)
	const sources, per = 16, 50
	var srcs []*net.UDPConn
	for range sources {
		srcs = append(srcs, listen(t, "udp4", "127.0.0.1:0"))
	}
	rtcp := []byte{0x80, 200, 0, 1, 0, 0, 0, 1}
	taken := func() int {
		mu.Lock()
		defer mu.Unlock()
		return took
	}
	for i := range per {
		for _, s := range srcs {
			if _, err := s.WriteTo(rtpPacket(uint16(i), 200), to); err != nil {
				t.Fatal(err)
			}
		}
		// One round at a time, so that no socket buffer overflows on a
		// busy machine: this is about routing and order.
		deadline := time.Now().Add(5 * time.Second)
		for taken() < (i+1)*sources && time.Now().Before(deadline) {
			time.Sleep(100 * time.Microsecond)
		}
	}
	for _, s := range srcs {
		if _, err := s.WriteTo(rtcp, to); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[netip.AddrPort]bool{}
	buf := make([]byte, 1500)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for len(seen) < sources {
		n, from, err := c.ReadFromAddrPort(buf)
		if err != nil {
			t.Fatalf("after %d sources' RTCP: %v", len(seen), err)
		}
		if !bytes.Equal(buf[:n], rtcp) {
			t.Fatalf("the reader got %x", buf[:n])
		}
		seen[from] = true
	}
	for _, s := range srcs {
		if !seen[s.LocalAddr().(*net.UDPAddr).AddrPort()] {
			t.Fatalf("no RTCP from %v; sources seen %v", s.LocalAddr(), seen)
		}
	}
	mu.Lock()
	if took != sources*per || outOfOrder != 0 {
		t.Fatalf("the intercept took %d packets of %d, %d out of order", took, sources*per, outOfOrder)
	}
	mu.Unlock()

	_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, _, err := c.ReadFromAddrPort(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a read past its deadline: %v", err)
	}
	_ = c.SetReadDeadline(time.Time{})
	done := make(chan error, 1)
	go func() {
		_, _, err := c.ReadFromAddrPort(buf)
		done <- err
	}()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("a read after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end a waiting read")
	}
}
