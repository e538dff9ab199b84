package forward

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
)

// mapRouter routes feedback by a fixed table.
type mapRouter struct {
	dts map[uint32]*DownTrack
	tw  *Transport
}

func (r *mapRouter) Route(ssrc uint32) (*DownTrack, *Transport) {
	d, ok := r.dts[ssrc]
	if !ok {
		return nil, nil
	}
	return d, r.tw
}

func marshalCompound(tb testing.TB, pkts ...rtcp.Packet) []byte {
	tb.Helper()
	b, err := rtcp.Marshal(pkts)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// TestFeedbackParsedInPlace: a subscriber's compound RTCP, as pion
// marshals it, is applied without pion's parser: each message goes to
// the DownTrack whose SSRC it names (NACKs answered from the shared
// cache in that subscriber's numbering, PLI and FIR, receiver reports
// and REMB into the estimate, TWCC to the connection), with no
// allocation; a compound with anything else is left whole to pion, and
// nothing of it is applied.
func TestFeedbackParsedInPlace(t *testing.T) {
	f := newFixture(t, []string{""}, 0)
	const n = 20
	dts, ws := recordingSubscribers(t, f, 2, n)
	tw := NewTransport()
	r := &mapRouter{dts: map[uint32]*DownTrack{1001: dts[0], 1002: dts[1]}, tw: tw}
	sent := ws[1].written()
	pid := sent[7].SequenceNumber
	twcc := &rtcp.TransportLayerCC{MediaSSRC: 1002, BaseSequenceNumber: 1, PacketStatusCount: 2, ReferenceTime: 1,
		PacketChunks: []rtcp.PacketStatusChunk{&rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketReceivedSmallDelta, RunLength: 2}},
		RecvDeltas:   []*rtcp.RecvDelta{{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 250}, {Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 500}}}
	b := marshalCompound(t,
		&rtcp.ReceiverReport{SSRC: 9, Reports: []rtcp.ReceptionReport{{SSRC: 1001, FractionLost: 200}, {SSRC: 77, FractionLost: 255}}},
		&rtcp.SourceDescription{Chunks: []rtcp.SourceDescriptionChunk{{Source: 9, Items: []rtcp.SourceDescriptionItem{{Type: rtcp.SDESCNAME, Text: "sub"}}}}},
		&rtcp.TransportLayerNack{SenderSSRC: 9, MediaSSRC: 1002, Nacks: []rtcp.NackPair{{PacketID: pid, LostPackets: 0b101}}},
		&rtcp.PictureLossIndication{SenderSSRC: 9, MediaSSRC: 1001},
		&rtcp.FullIntraRequest{SenderSSRC: 9, FIR: []rtcp.FIREntry{{SSRC: 1002, SequenceNumber: 1}}},
		&rtcp.ReceiverEstimatedMaximumBitrate{SenderSSRC: 9, Bitrate: 300_000, SSRCs: []uint32{1002}},
	)
	b = append(b, marshalTWCC(twcc)...)
	var fb TWCCFeedback
	if !HandleFeedback(b, r, &fb) {
		t.Fatal("a receiver's feedback was left to pion")
	}
	got := ws[1].written()[n:]
	want := []uint16{pid, pid + 1, pid + 3}
	if len(got) != len(want) {
		t.Fatalf("%d retransmissions, want %d", len(got), len(want))
	}
	for i, h := range got {
		orig := sent[int(h.SequenceNumber-sent[0].SequenceNumber)]
		if h.SequenceNumber != want[i] || h.Timestamp != orig.Timestamp || h.SSRC != orig.SSRC {
			t.Fatalf("retransmission %d: seq %d ts %d, want seq %d ts %d", i, h.SequenceNumber, h.Timestamp, want[i], orig.Timestamp)
		}
	}
	if len(ws[0].written()) != n {
		t.Fatal("the other subscriber got retransmissions")
	}
	if st := dts[1].Stats(); st.NACKs != 3 || st.Resent != 3 || st.PLIs != 1 {
		t.Fatalf("subscriber 1: %+v", st)
	}
	if st := dts[0].Stats(); st.NACKs != 0 || st.PLIs != 1 {
		t.Fatalf("subscriber 0: %+v", st)
	}
	if e := dts[0].Estimate(); e != initialEstimate*(512-200)/512 {
		t.Fatalf("estimate after 78 %% loss %d", e)
	}
	if e := dts[1].Estimate(); e != 300_000 {
		t.Fatalf("estimate after REMB %d", e)
	}
	if st := tw.Stats(); st.Feedbacks != 1 {
		t.Fatalf("transport %+v", st)
	}

	// Left to pion, whole: anything but a receiver's feedback.
	plis := dts[0].Stats().PLIs
	pli := &rtcp.PictureLossIndication{SenderSSRC: 9, MediaSSRC: 1001}
	for name, c := range map[string][]byte{
		"sender report": marshalCompound(t, &rtcp.SenderReport{SSRC: 9}, pli),
		"bye":           marshalCompound(t, pli, &rtcp.Goodbye{Sources: []uint32{9}}),
		"truncated":     marshalCompound(t, pli)[:10],
		"slice":         marshalCompound(t, pli, &rtcp.SliceLossIndication{SenderSSRC: 9, MediaSSRC: 1001}),
		"empty":         nil,
	} {
		if HandleFeedback(c, r, &fb) {
			t.Errorf("%s: applied below pion", name)
		}
	}
	if st := dts[0].Stats(); st.PLIs != plis {
		t.Fatalf("a compound left to pion was applied: %d PLIs, want %d", st.PLIs, plis)
	}
}

// TestFeedbackAllocatesNothing: applying a subscriber's usual compound,
// NACK answered included, does not allocate.
func TestFeedbackAllocatesNothing(t *testing.T) {
	f := newFixture(t, []string{""}, 1)
	for i := range 20 {
		f.r.HandlePacket(0, vp8Packet(uint16(1000+i), uint32(3000*i), i == 0, 0))
	}
	f.waitAll(t, 20)
	r := &mapRouter{dts: map[uint32]*DownTrack{1: f.dts[0]}, tw: f.tw}
	b := marshalCompound(t,
		&rtcp.ReceiverReport{SSRC: 9, Reports: []rtcp.ReceptionReport{{SSRC: 1}}},
		&rtcp.TransportLayerNack{SenderSSRC: 9, MediaSSRC: 1, Nacks: []rtcp.NackPair{{PacketID: uint16(f.ws[0].lastSeq.Load()) - 3, LostPackets: 1}}},
		&rtcp.ReceiverEstimatedMaximumBitrate{SenderSSRC: 9, Bitrate: 2_000_000, SSRCs: []uint32{1}},
	)
	var fb TWCCFeedback
	if n := testing.AllocsPerRun(200, func() { HandleFeedback(b, r, &fb) }); n != 0 {
		t.Fatalf("%.1f allocations per compound", n)
	}
	if st := f.dts[0].Stats(); st.Resent == 0 {
		t.Fatalf("no retransmission: %+v", st)
	}
}

func FuzzHandleFeedback(f *testing.F) {
	f.Add(marshalCompound(f,
		&rtcp.ReceiverReport{SSRC: 9, Reports: []rtcp.ReceptionReport{{SSRC: 1}}},
		&rtcp.TransportLayerNack{SenderSSRC: 9, MediaSSRC: 1, Nacks: []rtcp.NackPair{{PacketID: 5, LostPackets: 1}}},
		&rtcp.FullIntraRequest{SenderSSRC: 9, FIR: []rtcp.FIREntry{{SSRC: 1}}},
		&rtcp.ReceiverEstimatedMaximumBitrate{SenderSSRC: 9, Bitrate: 2_000_000, SSRCs: []uint32{1}},
	))
	fx := newFixture(f, []string{""}, 1)
	r := &mapRouter{dts: map[uint32]*DownTrack{1: fx.dts[0]}, tw: fx.tw}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fb TWCCFeedback
		c := slices.Clone(b)
		if HandleFeedback(b, r, &fb) && !slices.Equal(b, c) {
			t.Fatal("the compound was changed")
		}
	})
}

// directRecorder is a connection's direct writer that counts RTP and
// keeps the last RTCP packet.
type directRecorder struct {
	countWriter
	mu   sync.Mutex
	rtcp []byte
}

func (w *directRecorder) WriteRTCP(b []byte) error {
	w.mu.Lock()
	w.rtcp = append(w.rtcp[:0], b...)
	w.mu.Unlock()
	return nil
}

// TestSenderReportOfWhatWasSent: once the connection has a direct
// writer, its DownTracks write to it past pion's, and the connection's
// sender reports go there too, one compound for all of them: each on its
// subscriber SSRC, counting the packets and payload octets sent, with
// the RTP time of the last frame advanced by the time since. A closed
// DownTrack is reported no more. It does not allocate.
func TestSenderReportOfWhatWasSent(t *testing.T) {
	f := newFixture(t, []string{""}, 2)
	dw := &directRecorder{}
	f.tw.SetDirect(dw)
	f.tw.SendReports(time.Now())
	if dw.rtcp != nil {
		t.Fatal("a sender report before any packet")
	}
	for i := range 10 {
		f.r.HandlePacket(0, vp8Packet(uint16(1+i), uint32(3000*i), i == 0, 0))
	}
	deadline := time.Now().Add(5 * time.Second)
	for dw.n.Load() < 20 {
		if time.Now().After(deadline) {
			t.Fatalf("%d of 20 packets to the direct writer", dw.n.Load())
		}
		time.Sleep(time.Millisecond)
	}
	for i, w := range f.ws {
		if n := w.n.Load(); n != 0 {
			t.Fatalf("subscriber %d: %d packets through pion's writer besides the direct one", i, n)
		}
	}
	reports := func(at time.Time) []*rtcp.SenderReport {
		t.Helper()
		f.tw.SendReports(at)
		dw.mu.Lock()
		pkts, err := rtcp.Unmarshal(dw.rtcp)
		dw.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		var srs []*rtcp.SenderReport
		for _, p := range pkts {
			sr, ok := p.(*rtcp.SenderReport)
			if !ok {
				t.Fatalf("%T in the compound", p)
			}
			srs = append(srs, sr)
		}
		return srs
	}
	at := time.Now().Add(500 * time.Millisecond)
	srs := reports(at)
	if len(srs) != 2 {
		t.Fatalf("%d sender reports for 2 DownTracks", len(srs))
	}
	for i, sr := range srs {
		d := f.dts[i]
		d.wmu.Lock()
		frame := d.frameTS
		d.wmu.Unlock()
		if sr.SSRC != 42 || sr.PacketCount != 10 || sr.OctetCount != 10*1000 {
			t.Fatalf("report %d: %+v", i, sr)
		}
		// The last frame sent just now: its timestamp plus about half a
		// second at 90 kHz.
		if got := int32(sr.RTPTime - frame); got < 40_000 || got > 46_000 {
			t.Fatalf("report %d: RTP time %d ahead of the last frame, want about 45000", i, got)
		}
	}
	if n := testing.AllocsPerRun(100, func() { f.tw.SendReports(at) }); n != 0 {
		t.Fatalf("%.1f allocations per round of reports", n)
	}
	f.dts[1].Close()
	if srs := reports(at); len(srs) != 1 {
		t.Fatalf("%d sender reports after a DownTrack closed, want 1", len(srs))
	}
}
