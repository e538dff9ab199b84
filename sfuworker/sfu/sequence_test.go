package sfu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/greenroom-live/greenroom/sfuworker/sfu/sdpcheck"
	"github.com/pion/webrtc/v4"
)

// This file plays random sequences of what a session does to its media
// (approvals, leaving the stage, mic and camera toggles, breakout moves,
// publishers restarting their tracks on the same transceivers or
// removing them and adding new ones, replaceTrack, reconnects, offers
// left unanswered, answered late or refused, client offers crossing the
// worker's) against the worker with real pion peers whose signaling is
// delivered out of order, as separate Lambda invocations deliver it.
// Every description the worker sends is checked as Chrome checks it
// (sdpcheck, in the harness), and after every step each member must
// receive exactly the members it should, each on one media section per
// kind, with media flowing on every one of them whose device is on.

// seqActor is one member as the test means it to be.
type seqActor struct {
	st      MemberState
	c       *client
	opts    clientOpts
	conns   int
	sending bool // The client sends its tracks (not stopped by renegotiation).
	video   bool // It has a video track (audio: always).
}

type sequence struct {
	t      *testing.T
	h      *harness
	rng    *rand.Rand
	actors []*seqActor
	log    []string
}

// TestRandomSequencesKeepDescriptionsValid runs fixed seeds; set
// GREENROOM_SFU_SEED (and GREENROOM_SFU_STEPS) to replay or explore.
func TestRandomSequencesKeepDescriptionsValid(t *testing.T) {
	seeds := []uint64{1, 2}
	steps := 24
	if s := os.Getenv("GREENROOM_SFU_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		seeds = []uint64{n}
	}
	if s := os.Getenv("GREENROOM_SFU_STEPS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			t.Fatalf("GREENROOM_SFU_STEPS=%q: want 1..1000", s)
		}
		steps = n
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Logf("seed %d, %d steps (GREENROOM_SFU_SEED=%d replays it)", seed, steps, seed)
			playSequence(t, seed, steps)
		})
	}
}

func playSequence(t *testing.T, seed uint64, steps int) {
	h := newHarnessWith(t, func(c *Config) { c.AnswerTimeout = time.Second })
	q := &sequence{t: t, h: h, rng: rand.New(rand.NewPCG(seed, 12))}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("steps played:\n  %s", strings.Join(q.log, "\n  "))
		}
	})
	for i, o := range []struct {
		opts    clientOpts
		publish bool
	}{
		{clientOpts{video: true, audio: true}, true},
		{clientOpts{video: true, audio: true}, false},
		{clientOpts{video: true, audio: true, simulcast: true}, false},
		{clientOpts{audio: true}, true},
		{clientOpts{recvVideo: true}, false},
	} {
		a := &seqActor{st: on(MemberID(fmt.Sprintf("m%d", i)), o.publish, MainGroup), opts: o.opts,
			sending: o.opts.audio || o.opts.video, video: o.opts.video}
		a.st.Connection = ConnectionID(fmt.Sprintf("c-m%d-0", i))
		a.c = q.connect(a)
		q.actors = append(q.actors, a)
	}
	q.settle("start")
	for i := range steps {
		what := q.step()
		q.log = append(q.log, fmt.Sprintf("%2d %s", i, what))
		q.settle(fmt.Sprintf("step %d (%s)", i, what))
		if t.Failed() {
			return
		}
	}
}

// connect starts a's client; its messages to the worker go out each on
// its own goroutine after a random delay, so that they may arrive in any
// order.
func (q *sequence) connect(a *seqActor) *client {
	var c *client
	var mu sync.Mutex
	seed := q.rng.Uint64()
	r := rand.New(rand.NewPCG(seed, 7))
	conn := a.st.Connection
	out := func(msgType string, payload json.RawMessage) error {
		mu.Lock()
		delay := time.Duration(r.IntN(15)) * time.Millisecond
		mu.Unlock()
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			select {
			case <-time.After(delay):
			case <-c.done:
				return
			}
			err := q.h.w.Signal(context.Background(), q.h.room, a.st.ID, msgType, payload)
			if err != nil && !errors.Is(err, ErrStaleAnswer) && !errors.Is(err, ErrNoMember) {
				// The member may have reconnected meanwhile.
				if q.h.conn(a.st.ID) == conn {
					q.t.Logf("%s: %s refused: %v", a.st.ID, msgType, err)
				}
			}
		}()
		return nil
	}
	c = newPeer(q.t, a.st.ID, out, a.opts)
	q.h.mu.Lock()
	q.h.clients[a.st.ID] = c
	q.h.mu.Unlock()
	q.h.apply(a.st)
	c.start()
	return c
}

// step plays one random event and says what it was.
func (q *sequence) step() string {
	a := q.actors[q.rng.IntN(len(q.actors))]
	id := a.st.ID
	switch n := q.rng.IntN(100); {
	case n < 22:
		a.st.Publish = !a.st.Publish
		q.h.apply(a.st)
		if a.st.Publish {
			return string(id) + " approved"
		}
		return string(id) + " leaves the stage"
	case n < 32:
		a.st.Mic, a.st.Cam = q.rng.IntN(3) > 0, q.rng.IntN(3) > 0
		q.h.apply(a.st)
		return fmt.Sprintf("%s mic %v cam %v", id, a.st.Mic, a.st.Cam)
	case n < 44:
		g := MainGroup
		if a.st.Group == MainGroup {
			g = q.rng.IntN(2)
		}
		a.st.Group = g
		q.h.apply(a.st)
		return fmt.Sprintf("%s moves to group %d", id, g)
	case n < 56:
		if !a.opts.audio || a.opts.simulcast {
			return string(id) + " (nothing to restart)"
		}
		if a.sending {
			a.sending = false
			q.do(a, a.c.stopSending)
			return string(id) + " stops sending (renegotiated)"
		}
		a.sending = true
		q.do(a, a.c.resumeOnSameTransceivers)
		return string(id) + " restarts its tracks on the same transceivers"
	case n < 64:
		if !a.opts.audio || a.opts.simulcast {
			return string(id) + " (nothing to republish)"
		}
		a.sending = true
		q.do(a, a.c.republishNewTracks)
		return string(id) + " removes its tracks and adds new ones"
	case n < 70:
		if !a.opts.audio || a.opts.simulcast || !a.sending {
			return string(id) + " (nothing to replace)"
		}
		q.do(a, a.c.replaceTracks)
		return string(id) + " replaces its tracks (replaceTrack, no renegotiation)"
	case n < 78:
		a.c.close()
		a.conns++
		a.st.Connection = ConnectionID(fmt.Sprintf("c-%s-%d", id, a.conns))
		a.sending = a.opts.audio || a.opts.video
		a.c = q.connect(a)
		return string(id) + " reconnects"
	case n < 86:
		// An offer left unanswered; then answered late, or refused.
		a.c.holdOffers.Store(true)
		other := q.actors[q.rng.IntN(len(q.actors))]
		if other != a {
			other.st.Publish = !other.st.Publish
			q.h.apply(other.st)
		}
		late := q.rng.IntN(2) == 0
		wait := time.Duration(q.rng.IntN(1500)) * time.Millisecond
		q.pause(wait)
		a.c.holdOffers.Store(false)
		held := a.c.takeHeld()
		if late {
			c := a.c
			q.do(a, func() {
				for _, m := range held {
					var p struct {
						SDP           string `json:"sdp"`
						NegotiationID *int64 `json:"negotiationId"`
					}
					if json.Unmarshal(m.payload, &p) == nil {
						c.applyOffer(p.SDP, p.NegotiationID)
					}
				}
			})
			return fmt.Sprintf("%s holds the worker's offers %v, then answers %d late (and %s approved %v)", id, wait, len(held), other.st.ID, other.st.Publish)
		}
		q.do(a, a.c.offerIfStable)
		return fmt.Sprintf("%s holds the worker's offers %v, refuses %d and offers itself (and %s approved %v)", id, wait, len(held), other.st.ID, other.st.Publish)
	default:
		// A client offer crossing whatever the worker is offering.
		other := q.actors[q.rng.IntN(len(q.actors))]
		other.st.Publish = !other.st.Publish
		q.h.apply(other.st)
		q.do(a, a.c.offerIfStable)
		return fmt.Sprintf("%s offers while %s is approved %v", id, other.st.ID, other.st.Publish)
	}
}

// pause waits a random while: the point is to let the worker's timers
// run, not to wait for a condition.
func (q *sequence) pause(d time.Duration) { time.Sleep(d) }

// do runs fn on a's signaling goroutine, in order with its messages.
func (q *sequence) do(a *seqActor, fn func()) {
	c := a.c
	c.inbox.mu.Lock()
	c.inbox.msgs = append(c.inbox.msgs, msg{fn: func() {
		if !c.closed.Load() {
			fn()
		}
	}})
	c.inbox.mu.Unlock()
	select {
	case c.inbox.wake <- struct{}{}:
	default:
	}
}

// expected is what viewer v should receive: by publisher, the kinds it
// sends, and whether each flows.
func (q *sequence) expected(v *seqActor) map[MemberID]map[string]bool {
	want := map[MemberID]map[string]bool{}
	for _, p := range q.actors {
		if p == v || !p.st.Publish || p.st.Group != v.st.Group || !p.sending {
			continue
		}
		k := map[string]bool{}
		if p.opts.audio {
			k["audio"] = p.st.Mic
		}
		if p.video {
			k["video"] = p.st.Cam
		}
		if len(k) > 0 {
			want[p.st.ID] = k
		}
	}
	return want
}

// settle waits until every member receives exactly what it should.
func (q *sequence) settle(when string) {
	q.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for _, v := range q.actors {
		marks := map[string]int64{}
		for {
			err := q.check(v, marks)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				q.t.Logf("state:\n%s", q.dump())
				q.t.Fatalf("after %s: %s: %v", when, v.st.ID, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// check compares what v's description says the worker sends it with what
// it should receive, and that media flows on each section whose device is
// on (at least 5 packets since the first look).
func (q *sequence) check(v *seqActor, marks map[string]int64) error {
	c := v.c
	if st := c.pc.SignalingState(); st != webrtc.SignalingStateStable {
		return fmt.Errorf("signaling state %s", st)
	}
	rd := c.pc.CurrentRemoteDescription()
	if rd == nil {
		return errors.New("no remote description yet")
	}
	d, err := sdpcheck.Parse(rd.SDP)
	if err != nil {
		return err
	}
	got := map[MemberID]map[string][]string{} // publisher -> kind -> mids
	for _, s := range d.Sections {
		if !s.Sends() {
			continue
		}
		for _, stream := range s.Streams() {
			if got[MemberID(stream)] == nil {
				got[MemberID(stream)] = map[string][]string{}
			}
			got[MemberID(stream)][s.Kind] = append(got[MemberID(stream)][s.Kind], s.Mid)
		}
	}
	want := q.expected(v)
	var problems []string
	for p, kinds := range got {
		for kind, mids := range kinds {
			if _, ok := want[p][kind]; !ok {
				problems = append(problems, fmt.Sprintf("receives %s of %s (%v), should not", kind, p, mids))
			} else if len(mids) != 1 {
				problems = append(problems, fmt.Sprintf("receives %s of %s on %d media sections %v", kind, p, len(mids), mids))
			}
		}
	}
	for p, kinds := range want {
		for kind, flows := range kinds {
			mids := got[p][kind]
			if len(mids) == 0 {
				problems = append(problems, fmt.Sprintf("does not receive %s of %s", kind, p))
				continue
			}
			if !flows || len(mids) != 1 {
				continue
			}
			n := c.flow(mids[0])
			key := string(p) + "/" + kind + "/" + mids[0]
			if _, ok := marks[key]; !ok {
				marks[key] = n
			}
			if n < marks[key]+5 {
				problems = append(problems, fmt.Sprintf("%s of %s on %s does not flow (%d packets since %d)", kind, p, mids[0], n, marks[key]))
			}
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// dump describes every member as the worker and its client see it.
func (q *sequence) dump() string {
	var b strings.Builder
	for _, a := range q.actors {
		m := q.h.member(a.st.ID)
		fmt.Fprintf(&b, "%s %+v sending=%v\n", a.st.ID, a.st, a.sending)
		if m == nil {
			continue
		}
		mids := map[*webrtc.RTPReceiver]string{}
		var ts []*webrtc.RTPTransceiver
		done := make(chan struct{})
		if m.ops.push(func() {
			if m.pc != nil {
				ts = m.pc.GetTransceivers()
				if rd := m.pc.RemoteDescription(); rd != nil {
					fmt.Fprintf(&b, "  worker remote: %s\n", summary(rd.SDP))
				}
				if ld := m.pc.CurrentLocalDescription(); ld != nil {
					fmt.Fprintf(&b, "  worker local:  %s\n", summary(ld.SDP))
				}
				fmt.Fprintf(&b, "  pending %v (id %d) failures %d\n", m.pending != nil, m.pendingID, m.failures)
			}
			close(done)
		}) {
			<-done
		}
		for _, t := range ts {
			mids[t.Receiver()] = t.Mid()
			fmt.Fprintf(&b, "  worker transceiver %s %s dir %s sender %v\n", t.Mid(), t.Kind(), t.Direction(), t.Sender() != nil)
		}
		q.h.w.mu.Lock()
		for _, pt := range m.pubs {
			fmt.Fprintf(&b, "  pub %s %s active=%v mid=%q fwd=%v packets=%d\n", pt.trackID, pt.kind, pt.active, mids[pt.rr], forwarded(pt), pt.recv.Stats().Packets)
		}
		q.h.w.mu.Unlock()
		for _, t := range a.c.pc.GetTransceivers() {
			tr := ""
			if s := t.Sender(); s != nil && s.Track() != nil {
				tr = s.Track().ID()
			}
			fmt.Fprintf(&b, "  client transceiver %s %s dir %s sending %q flow %d\n", t.Mid(), t.Kind(), t.Direction(), tr, a.c.flow(t.Mid()))
		}
		if ld := a.c.pc.CurrentLocalDescription(); ld != nil {
			fmt.Fprintf(&b, "  client local: %s\n", summary(ld.SDP))
		}
	}
	return b.String()
}

// flow is the number of packets the current track of a media section has
// brought.
func (c *client) flow(mid string) int64 {
	for _, t := range c.pc.GetTransceivers() {
		if t.Mid() != mid {
			continue
		}
		c.mu.Lock()
		n := c.byRR[t.Receiver()]
		c.mu.Unlock()
		if n != nil {
			return n.Load()
		}
	}
	return 0
}

// fail reports a client's failure, unless the client was closed (a
// reconnect) while it acted.
func (c *client) fail(format string, args ...any) {
	if !c.closed.Load() {
		c.t.Errorf(format, args...)
	}
}

// takeHeld returns and forgets the offers held.
func (c *client) takeHeld() []msg {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := c.held
	c.held = nil
	return h
}

// offerIfStable sends an offer of the client, on its signaling goroutine.
func (c *client) offerIfStable() {
	if c.pc.SignalingState() != webrtc.SignalingStateStable {
		return
	}
	offer, err := c.pc.CreateOffer(nil)
	if err != nil {
		c.fail("%s: offer: %v", c.id, err)
		return
	}
	if err := c.pc.SetLocalDescription(offer); err != nil {
		c.fail("%s: set offer: %v", c.id, err)
		return
	}
	b, _ := json.Marshal(map[string]string{"sdp": offer.SDP, "type": "offer"})
	_ = c.out("media.offer", b)
}

// sending are the client's transceivers that carry its own tracks.
func (c *client) sendingTransceivers() []*webrtc.RTPTransceiver {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*webrtc.RTPTransceiver
	for _, t := range c.pc.GetTransceivers() {
		s := t.Sender()
		if s == nil || s.Track() == nil {
			continue
		}
		if slices.ContainsFunc(c.video, func(v rtpWriter) bool { tl, ok := v.(webrtc.TrackLocal); return ok && tl == s.Track() }) ||
			(c.audio != nil && s.Track() == webrtc.TrackLocal(c.audio)) {
			out = append(out, t)
		}
	}
	return out
}

// stopSending removes the client's tracks from their transceivers (they
// become recvonly) and renegotiates: what a browser does when it stops
// publishing and keeps its transceivers.
func (c *client) stopSending() {
	ts := c.sendingTransceivers()
	for _, t := range ts {
		if err := c.pc.RemoveTrack(t.Sender()); err != nil {
			c.fail("%s: remove track: %v", c.id, err)
		}
	}
	c.mu.Lock()
	c.stopped = ts
	c.video, c.audio = nil, nil
	c.mu.Unlock()
	c.offerIfStable()
}

// resumeOnSameTransceivers puts new tracks with the same ids on the
// transceivers stopSending left (new SSRCs, the same mids and msids) and
// renegotiates: a browser going live a second time.
func (c *client) resumeOnSameTransceivers() {
	c.mu.Lock()
	ts := c.stopped
	c.stopped = nil
	c.mu.Unlock()
	for _, t := range ts {
		tr := c.newTrack(t.Kind(), t.Kind().String())
		sender, err := c.api.NewRTPSender(tr, c.pc.SCTP().Transport())
		if err != nil {
			c.fail("%s: sender: %v", c.id, err)
			continue
		}
		if err := t.SetSender(sender, tr); err != nil {
			c.fail("%s: set sender: %v", c.id, err)
			continue
		}
		c.drainRTCP(sender)
	}
	c.offerIfStable()
}

// republishNewTracks removes the client's tracks and adds new ones (new
// ids, new transceivers) in one renegotiation.
func (c *client) republishNewTracks() {
	for _, t := range c.sendingTransceivers() {
		if err := c.pc.RemoveTrack(t.Sender()); err != nil {
			c.fail("%s: remove track: %v", c.id, err)
		}
	}
	c.mu.Lock()
	c.video, c.audio = nil, nil
	c.stopped = nil
	c.gen++
	gen := c.gen
	c.mu.Unlock()
	kinds := []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio}
	if c.opts.video {
		kinds = []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio}
	}
	for _, k := range kinds {
		tr := c.newTrack(k, fmt.Sprintf("%s-%d", k, gen))
		sender, err := c.pc.AddTrack(tr)
		if err != nil {
			c.fail("%s: add track: %v", c.id, err)
			continue
		}
		c.drainRTCP(sender)
	}
	c.offerIfStable()
}

// replaceTracks swaps the client's tracks for new ones on the same
// senders without renegotiating (replaceTrack): the same SSRCs go on.
func (c *client) replaceTracks() {
	for _, t := range c.sendingTransceivers() {
		tr := c.newTrack(t.Kind(), t.Sender().Track().ID())
		if err := t.Sender().ReplaceTrack(tr); err != nil {
			c.fail("%s: replace track: %v", c.id, err)
		}
	}
}

// newTrack makes a track of kind and makes it the one the client sends
// of that kind.
func (c *client) newTrack(kind webrtc.RTPCodecType, id string) webrtc.TrackLocal {
	if kind == webrtc.RTPCodecTypeVideo {
		tr, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, id, string(c.id))
		if err != nil {
			c.t.Fatal(err)
		}
		c.mu.Lock()
		c.video = []rtpWriter{tr}
		c.mu.Unlock()
		c.keyReq.Store(true)
		return tr
	}
	tr, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, id, string(c.id))
	if err != nil {
		c.t.Fatal(err)
	}
	a := &levelTrack{TrackLocalStaticRTP: tr}
	c.mu.Lock()
	c.audio = a
	c.mu.Unlock()
	return a
}
