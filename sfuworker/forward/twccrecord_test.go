package forward

import (
	"math/rand/v2"
	"testing"

	"github.com/pion/rtcp"
)

// TestTWCCRecorderReportsEveryPacketOnce: 40 rounds of a publisher's
// packets, with loss, reordering, a sequence number wrap, packets late
// past their feedback and gaps in time too long for one delta, recorded
// and built into feedback: pion's parser and the worker's own read
// every feedback; each sequence number is reported once, in order
// across feedbacks, received or not as it was recorded before the
// feedback, with its arrival to within a delta's 250 µs.
func TestTWCCRecorderReportsEveryPacketOnce(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	r := NewTWCCRecorder(77)
	buf := make([]byte, 1500)
	arrivals := map[uint16]int64{} // Recorded and not reported yet.
	var late []uint16
	seq := uint16(65000)
	now := int64(1_000_000)
	// The recorder starts at the first packet it sees.
	next := uint16(64999) // The next sequence number a feedback reports.
	r.Record(1234, next, now)
	arrivals[next] = now
	var fb TWCCFeedback
	reported := 0
	for round := range 40 {
		n := 1 + rng.IntN(400)
		if round%5 == 1 {
			n = 700 + rng.IntN(300) // More than one feedback carries.
		}
		if round%7 == 3 {
			now += 10_000_000 // 10 s: more than a delta can say.
		}
		var batch []uint16
		for range n {
			batch = append(batch, seq)
			seq++
		}
		for i := 0; i+1 < len(batch); i++ {
			if rng.IntN(10) == 0 {
				batch[i], batch[i+1] = batch[i+1], batch[i]
			}
		}
		for _, s := range batch {
			now += int64(rng.IntN(5000))
			if rng.IntN(20) == 0 {
				now += 70_000 // A large delta.
			}
			if s == seq-1 || rng.IntN(10) != 0 { // The highest always arrives.
				r.Record(1234, s, now)
				arrivals[s] = now
			}
		}
		// Packets reported lost in an earlier feedback arrive now: they are
		// not reported again.
		for _, s := range late {
			r.Record(1234, s, now)
		}
		late = late[:0]
		for {
			l := r.Build(buf)
			if l == 0 {
				break
			}
			b := buf[:l]
			pkts, err := rtcp.Unmarshal(b)
			if err != nil || len(pkts) != 1 {
				t.Fatalf("round %d: pion: %v %v", round, pkts, err)
			}
			cc, ok := pkts[0].(*rtcp.TransportLayerCC)
			if !ok || cc.SenderSSRC != 77 || cc.MediaSSRC != 1234 {
				t.Fatalf("round %d: %#v", round, pkts[0])
			}
			if !ParseTWCC(b, &fb) {
				t.Fatalf("round %d: not parsed", round)
			}
			if fb.Base != next || int(cc.PacketStatusCount) != len(fb.Arrivals) {
				t.Fatalf("round %d: base %d count %d, want base %d", round, fb.Base, len(fb.Arrivals), next)
			}
			for i, arr := range fb.Arrivals {
				s := fb.Base + uint16(i)
				want, ok := arrivals[s]
				switch {
				case !ok && arr != TWCCLost:
					t.Fatalf("round %d: %d reported received, never recorded", round, s)
				case ok && arr == TWCCLost:
					t.Fatalf("round %d: %d reported lost, recorded at %d", round, s, want)
				case ok && (arr-want >= 250 || want-arr >= 250):
					t.Fatalf("round %d: %d arrived at %d, reported %d", round, s, want, arr)
				}
				if !ok && rng.IntN(3) == 0 {
					late = append(late, s)
				}
				delete(arrivals, s)
			}
			next += uint16(len(fb.Arrivals))
			reported += len(fb.Arrivals)
		}
		if len(arrivals) != 0 {
			t.Fatalf("round %d: %d packets recorded and not reported", round, len(arrivals))
		}
	}
	if reported != int(seq-64999) {
		t.Fatalf("%d reported of %d sent", reported, seq-64999)
	}
	allocs := testing.AllocsPerRun(100, func() {
		for range 20 {
			now += 3000
			r.Record(1234, seq, now)
			seq++
		}
		r.Build(buf)
	})
	if allocs != 0 {
		t.Fatalf("%.1f allocations per feedback", allocs)
	}
}
