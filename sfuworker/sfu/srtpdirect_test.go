package sfu

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"

	"github.com/greenroom-live/greenroom/sfuworker/udpbatch"
)

// TestDirectSRTPWritesWhatAReceiverDecrypts: the worker's own SRTP
// writer protects packets, across a sequence number rollover, so that a
// receiver's context with the same keys decrypts each back to what was
// written, sent through the batch to the pair's address; and a write
// allocates nothing.
func TestDirectSRTPWritesWhatAReceiverDecrypts(t *testing.T) {
	key, salt := bytes.Repeat([]byte{7}, 16), bytes.Repeat([]byte{9}, 12)
	profile := srtp.ProtectionProfileAeadAes128Gcm
	enc, err := srtp.CreateContext(key, salt, profile)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := srtp.CreateContext(key, salt, profile)
	if err != nil {
		t.Fatal(err)
	}
	sock, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	batch, err := udpbatch.New(sock, udpbatch.Config{Delay: time.Hour})
	if err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() { batch.Close() })
	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	d := &directSRTP{batch: batch, ctx: enc}
	a := peer.LocalAddr().(*net.UDPAddr).AddrPort()
	d.addr.Store(&a)

	payload := make([]byte, 1100)
	h := rtp.Header{Version: 2, PayloadType: 96, SSRC: 42, Timestamp: 1000}
	buf := make([]byte, 2000)
	for i := range 40 {
		h.SequenceNumber = uint16(65520 + i) // Wraps at i = 16.
		h.Marker = i%2 == 0
		payload[0] = byte(i)
		if n, err := d.WriteRTP(&h, payload); err != nil || n == 0 {
			t.Fatalf("write %d: %d, %v", i, n, err)
		}
		batch.Flush()
		_ = peer.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := peer.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		var got rtp.Header
		plain, err := dec.DecryptRTP(nil, buf[:n], &got)
		if err != nil {
			t.Fatalf("packet %d (seq %d) does not decrypt: %v", i, h.SequenceNumber, err)
		}
		var p rtp.Packet
		if err := p.Unmarshal(plain); err != nil {
			t.Fatal(err)
		}
		if p.SequenceNumber != h.SequenceNumber || p.Marker != h.Marker || p.SSRC != 42 || !bytes.Equal(p.Payload, payload) {
			t.Fatalf("packet %d decrypts to seq %d marker %v ssrc %d, %d bytes", i, p.SequenceNumber, p.Marker, p.SSRC, len(p.Payload))
		}
	}
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for {
			if _, err := peer.Read(buf); err != nil {
				return
			}
		}
	}()
	allocs := testing.AllocsPerRun(200, func() {
		h.SequenceNumber++
		_, _ = d.WriteRTP(&h, payload)
		batch.Flush()
	})
	_ = peer.SetReadDeadline(time.Now())
	<-drained
	if allocs != 0 {
		t.Fatalf("%.1f allocations per write", allocs)
	}
}
