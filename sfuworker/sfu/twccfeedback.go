package sfu

import (
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/greenroom-live/greenroom/sfuworker/forward"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/sdp/v3"
)

// twccFeedbackInterval is how often a publisher is told which of its
// packets arrived when (pion's default, and about Chrome's).
const twccFeedbackInterval = 100 * time.Millisecond

// twccFeedback sends publishers the transport-wide congestion control
// feedback they estimate their bandwidth from. It does what pion's
// twcc.SenderInterceptor does, less two things: pion's hands every
// incoming packet to its sending goroutine over an unbuffered channel, a
// goroutine switch (and, with idle processors, a thread wake-up) per
// packet received, and builds each feedback from new objects, about
// forty allocations ten times a second per publisher. Here the reader
// records the arrival under a lock, the sending goroutine wakes only on
// its ticker, and the feedback is built in place (forward.TWCCRecorder).
// It starts at the first packet, so a subscriber's connection, which
// receives no media, runs no goroutine.
type twccFeedback struct {
	interceptor.NoOp
	log   *slog.Logger
	start time.Time

	mu       sync.Mutex
	recorder *forward.TWCCRecorder
	writer   interceptor.RTCPWriter
	buf      [1500]byte // The feedback being sent, the loop's.
	started  bool
	closed   bool
	done     chan struct{}
	wg       sync.WaitGroup
}

type twccFeedbackFactory struct{ log *slog.Logger }

func (f twccFeedbackFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &twccFeedback{log: f.log, start: time.Now(), done: make(chan struct{})}, nil
}

// BindRTCPWriter implements interceptor.Interceptor.
func (t *twccFeedback) BindRTCPWriter(w interceptor.RTCPWriter) interceptor.RTCPWriter {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.writer = w
	return w
}

// BindRemoteStream implements interceptor.Interceptor.
func (t *twccFeedback) BindRemoteStream(info *interceptor.StreamInfo, r interceptor.RTPReader) interceptor.RTPReader {
	var id uint8
	for _, e := range info.RTPHeaderExtensions {
		if e.URI == sdp.TransportCCURI {
			id = uint8(e.ID) //nolint:gosec // Negotiated ids are 1–14.
			break
		}
	}
	if id == 0 {
		return r
	}
	ssrc := info.SSRC
	return interceptor.RTPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		n, a, err := r.Read(b, a)
		if err != nil {
			return n, a, err
		}
		if a == nil {
			a = interceptor.Attributes{}
		}
		h, err := a.GetRTPHeader(b[:n])
		if err != nil {
			return 0, nil, err
		}
		ext := h.GetExtension(id)
		if len(ext) < 2 {
			return n, a, nil
		}
		seq := uint16(ext[0])<<8 | uint16(ext[1])
		arrival := time.Since(t.start).Microseconds()
		t.mu.Lock()
		if t.writer != nil && !t.closed {
			if !t.started {
				// At the first packet: a subscriber's connection, which
				// receives no media, holds no recorder. A fresh sender
				// SSRC per connection, as pion's.
				t.started = true
				t.recorder = forward.NewTWCCRecorder(rand.Uint32())
				t.wg.Add(1)
				go t.loop()
			}
			t.recorder.Record(ssrc, seq, arrival)
		}
		t.mu.Unlock()
		return n, a, nil
	})
}

// loop sends the feedback gathered since the last tick, until Close.
func (t *twccFeedback) loop() {
	defer t.wg.Done()
	tick := time.NewTicker(twccFeedbackInterval)
	defer tick.Stop()
	for {
		select {
		case <-t.done:
			return
		case <-tick.C:
		}
		for {
			t.mu.Lock()
			n := t.recorder.Build(t.buf[:])
			w := t.writer
			t.mu.Unlock()
			if n == 0 {
				break
			}
			// pion's writer marshals and encrypts into new buffers.
			p := rtcp.RawPacket(t.buf[:n])
			if _, err := w.Write([]rtcp.Packet{&p}, nil); err != nil {
				t.log.Debug("twcc feedback", "err", err)
				break
			}
		}
	}
}

// Close implements interceptor.Interceptor.
func (t *twccFeedback) Close() error {
	t.mu.Lock()
	if !t.closed {
		t.closed = true
		close(t.done)
	}
	t.mu.Unlock()
	t.wg.Wait()
	return nil
}

var _ interceptor.Factory = twccFeedbackFactory{}
