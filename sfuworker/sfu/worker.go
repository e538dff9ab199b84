package sfu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/greenroom-live/greenroom/sfuworker/forward"
	"github.com/greenroom-live/greenroom/sfuworker/udpbatch"
	"github.com/pion/webrtc/v4"
)

// speakerInterval is how often audio levels are turned into
// active-speaker events.
const speakerInterval = 100 * time.Millisecond

// speakerMinGap is the least time between two active-speaker events of a
// group: a change sooner waits for it.
const speakerMinGap = 500 * time.Millisecond

// speakerMsg is the message type members of a group get, with payload
// {"userId": "<member>"}, when its active speaker changes.
const speakerMsg = "active.speaker"

// Worker hosts rooms of members, each member with one PeerConnection. Room
// state lives behind mu; PeerConnection calls and signaling run on each
// member's operation queue, never under mu. Life cycle: New, then Apply /
// Signal / CloseRoom from any goroutine, then Close once (idempotent).
type Worker struct {
	cfg  Config
	log  *slog.Logger
	api  *webrtc.API
	cert webrtc.Certificate

	mu     sync.Mutex
	rooms  map[RoomID]*room
	closed bool
	seq    uint64 // Numbers published tracks in the order they appear.

	answerTimeout time.Duration
	offerBackoff  time.Duration

	// Counters of tracks already gone, so Stats keeps growing.
	gonePackets, goneBytes, goneNACKs, goneResent, gonePLIs atomic.Uint64

	// batch sends forwarded RTP in batches (nil where it cannot); flush
	// is its Flush, which the forwarding layer calls at the end of each
	// packet's fan-out.
	batch *udpbatch.Conn
	flush func()

	// twcc routes subscribers' TWCC feedback to their connections.
	twcc *feedbackRoutes
	// fast reads publishers' RTP below pion (fastread.go), nil without
	// batch; taps hands each connection its interceptor chains.
	fast *fastPath
	taps *fastTaps

	done chan struct{}
	wg   sync.WaitGroup
}

type room struct {
	id       RoomID
	version  int64
	members  map[MemberID]*member
	speakers map[int]MemberID
	spokeAt  map[int]time.Time // When each group's last event went out.
}

// New validates cfg and starts a Worker.
func New(cfg Config) (*Worker, error) {
	if cfg.Signal == nil {
		return nil, ErrNoSignal
	}
	if cfg.UDP == nil {
		return nil, ErrNoUDP
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	// Forwarded RTP leaves in batches, one sendmmsg for many packets
	// (udpbatch); where the socket cannot, one sendto per packet.
	batch, err := udpbatch.New(cfg.UDP, udpbatch.Config{Logger: cfg.Logger})
	if err != nil {
		cfg.Logger.Info("sfu: forwarding without batched sends", "err", err)
		batch = nil
	}
	apiCfg := cfg
	if batch != nil {
		apiCfg.UDP = batch
	}
	routes := newFeedbackRoutes()
	var taps *fastTaps
	if batch != nil {
		taps = newFastTaps()
	}
	api, err := newAPI(apiCfg, routes, taps)
	if err != nil {
		if batch != nil {
			batch.Stop()
		}
		return nil, err
	}
	cert, err := newCertificate()
	if err != nil {
		if batch != nil {
			batch.Stop()
		}
		return nil, err
	}
	if cfg.AnswerTimeout <= 0 {
		cfg.AnswerTimeout = DefaultAnswerTimeout
	}
	if cfg.OfferBackoff <= 0 {
		cfg.OfferBackoff = DefaultOfferBackoff
	}
	w := &Worker{cfg: cfg, log: cfg.Logger, api: api, cert: cert, rooms: map[RoomID]*room{}, done: make(chan struct{}),
		answerTimeout: cfg.AnswerTimeout, offerBackoff: cfg.OfferBackoff, batch: batch, twcc: routes, taps: taps}
	if batch != nil {
		w.flush = batch.FlushSoon
		w.fast = newFastPath(routes)
		batch.SetIntercept(w.fast.intercept)
	}
	w.wg.Add(2)
	go w.speakerLoop()
	go w.reportLoop()
	return w, nil
}

// Apply makes a room match st: creates it, adds and removes members, sets
// who may publish and who sees whom. Idempotent; older versions are
// ignored.
func (w *Worker) Apply(ctx context.Context, st RoomState) error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return ErrClosed
	}
	r := w.rooms[st.Room]
	if r == nil {
		r = &room{id: st.Room, version: st.Version, members: map[MemberID]*member{}, speakers: map[int]MemberID{}, spokeAt: map[int]time.Time{}}
		w.rooms[st.Room] = r
	}
	if st.Version < r.version {
		w.mu.Unlock()
		return nil
	}
	r.version = st.Version
	want := make(map[MemberID]MemberState, len(st.Members))
	for _, m := range st.Members {
		want[m.ID] = m
	}
	var gone []*member
	for id, m := range r.members {
		if _, ok := want[id]; !ok {
			delete(r.members, id)
			gone = append(gone, m)
		}
	}
	for id, ms := range want {
		if m := r.members[id]; m != nil {
			if m.state.Connection == ms.Connection {
				m.state = ms
				continue
			}
			// Another WebSocket connection: the client reconnected (its
			// old connection's $disconnect may come later) and starts
			// again with a fresh offer on a new PeerConnection. The old
			// one goes, with its tracks and subscriptions, as if the
			// member had left; the new one joins with the same state.
			delete(r.members, id)
			gone = append(gone, m)
		}
		w.addMemberLocked(r, ms)
	}
	after := w.reconcileLocked(r)
	w.mu.Unlock()
	for _, f := range after {
		f()
	}
	for _, m := range gone {
		w.closeMember(m)
	}
	return nil
}

// Signal takes a member's media.offer, media.answer or media.candidate
// (payload {"sdp":…} or {"candidate":…}).
func (w *Worker) Signal(ctx context.Context, roomID RoomID, memberID MemberID, msgType string, payload json.RawMessage) error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return ErrClosed
	}
	r := w.rooms[roomID]
	if r == nil {
		w.mu.Unlock()
		return ErrNoRoom
	}
	m := r.members[memberID]
	w.mu.Unlock()
	if m == nil {
		return ErrNoMember
	}
	var handle func(*member, context.Context, json.RawMessage) error
	switch msgType {
	case "media.offer":
		handle = (*member).onOffer
	case "media.answer":
		handle = (*member).onAnswer
	case "media.candidate":
		handle = (*member).onCandidate
	default:
		return fmt.Errorf("%w: %q", ErrBadMessage, msgType)
	}
	err := m.run(ctx, func() error { return handle(m, ctx, payload) })
	if errors.Is(err, errFresh) {
		// The offer starts again on a new PeerConnection.
		if m = w.renew(m); m == nil {
			return ErrNoMember
		}
		err = m.run(ctx, func() error { return handle(m, ctx, payload) })
		if errors.Is(err, errFresh) {
			err = fmt.Errorf("%w: no new connection", ErrClosed)
		}
	}
	return err
}

// run runs op on the member's queue and waits for it.
func (m *member) run(ctx context.Context, op func() error) error {
	res := make(chan error, 1)
	if !m.ops.push(func() { res <- op() }) {
		return ErrNoMember
	}
	select {
	case err := <-res:
		return err
	case <-m.ops.done:
		return ErrNoMember
	case <-ctx.Done():
		return ctx.Err()
	}
}

// addMemberLocked adds a member to its room.
func (w *Worker) addMemberLocked(r *room, ms MemberState) *member {
	m := newMember(w, r, ms)
	r.members[ms.ID] = m
	if sp, ok := r.speakers[ms.Group]; ok {
		// A member joining learns who speaks now.
		m.ops.push(func() { m.send(speakerMsg, speakerPayload{sp}) })
	}
	return m
}

// renew replaces a member whose PeerConnection cannot take a client's
// offer by one with a new PeerConnection and the same state: the old one
// goes with its tracks and subscriptions, as if it had left, and the
// room is rewired. It returns the member now in the room (another one if
// the member was replaced meanwhile), or nil.
func (w *Worker) renew(old *member) *member {
	w.mu.Lock()
	r := old.room
	if w.closed || w.rooms[r.id] != r {
		w.mu.Unlock()
		return nil
	}
	if cur := r.members[old.id]; cur != old {
		w.mu.Unlock()
		return cur
	}
	w.log.Info("sfu: new peer connection for a fresh offer", "room", r.id, "member", old.id)
	m := w.addMemberLocked(r, old.state)
	after := w.reconcileLocked(r)
	w.mu.Unlock()
	for _, f := range after {
		f()
	}
	w.closeMember(old)
	return m
}

// CloseRoom closes every member's connection and forgets the room.
func (w *Worker) CloseRoom(ctx context.Context, roomID RoomID) error {
	w.mu.Lock()
	r := w.rooms[roomID]
	if r == nil {
		w.mu.Unlock()
		return ErrNoRoom
	}
	delete(w.rooms, roomID)
	ms := make([]*member, 0, len(r.members))
	for _, m := range r.members {
		ms = append(ms, m)
	}
	r.members = map[MemberID]*member{}
	w.mu.Unlock()
	for _, m := range ms {
		w.closeMember(m)
	}
	return nil
}

// Rooms lists the open rooms.
func (w *Worker) Rooms() []RoomID {
	w.mu.Lock()
	defer w.mu.Unlock()
	ids := make([]RoomID, 0, len(w.rooms))
	for id := range w.rooms {
		ids = append(ids, id)
	}
	return ids
}

// Stats is a snapshot for metrics and load reporting.
func (w *Worker) Stats() Stats {
	st := Stats{
		PacketsForwarded: w.gonePackets.Load(), BytesForwarded: w.goneBytes.Load(),
		NACKs: w.goneNACKs.Load(), Resent: w.goneResent.Load(), PLIs: w.gonePLIs.Load(),
	}
	if w.fast != nil {
		st.FastReads = w.fast.packets.Load()
		st.FastFeedbacks = w.fast.feedbacks.Load()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	st.Rooms = len(w.rooms)
	for _, r := range w.rooms {
		st.Members += len(r.members)
		for _, m := range r.members {
			st.Tracks += len(m.pubs)
			ts := m.tw.Stats()
			if d := m.srtp.Load(); d != nil {
				st.DirectSRTP += d.packets.Load()
			}
			st.TWCCFeedbacks += ts.Feedbacks
			st.Overuses += ts.Overuses
			for _, p := range m.pubs {
				st.PLIs += p.recv.Stats().PLIs
			}
			for _, s := range m.subs {
				ds := s.dt.Stats()
				st.PacketsForwarded += ds.Packets
				st.BytesForwarded += ds.Bytes
				st.NACKs += ds.NACKs
				st.Resent += ds.Resent
				if e := s.dt.Estimate(); e > 0 {
					st.Estimates = append(st.Estimates, e)
				}
			}
		}
	}
	return st
}

// ForceEstimate overrides the bandwidth estimate (bit/s; 0 returns to the
// estimator) of every video track a member receives, which moves its
// simulcast layers at once. It is the test and operations hook.
func (w *Worker) ForceEstimate(roomID RoomID, memberID MemberID, bps int64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.rooms[roomID]
	if r == nil {
		return ErrNoRoom
	}
	m := r.members[memberID]
	if m == nil {
		return ErrNoMember
	}
	for _, s := range m.subs {
		s.dt.ForceEstimate(bps)
	}
	return nil
}

// Close closes every room and stops every goroutine. It is idempotent.
func (w *Worker) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		w.wg.Wait()
		return nil
	}
	w.closed = true
	var ms []*member
	for _, r := range w.rooms {
		for _, m := range r.members {
			ms = append(ms, m)
		}
		r.members = map[MemberID]*member{}
	}
	w.rooms = map[RoomID]*room{}
	close(w.done)
	w.mu.Unlock()
	for _, m := range ms {
		w.closeMember(m)
	}
	w.wg.Wait()
	if w.batch != nil {
		w.batch.SetIntercept(nil)
		w.batch.Stop()
	}
	return nil
}

// reconcileLocked makes every member's subscriptions match the room: a
// member receives the forwarded tracks of the other members of its group
// who may publish, paused while their mic or camera is off. Subscriptions
// that go are retired; every member gets an update on its queue, which
// detaches, negotiates and tells it whether its own media is forwarded.
// It returns work to run after the lock is released.
func (w *Worker) reconcileLocked(r *room) []func() {
	var after []func()
	for _, s := range r.members {
		for key, sub := range s.subs {
			p := key.owner
			if r.members[p.state.ID] == p && p.state.Publish && p.state.Group == s.state.Group && p.pubs[key.rr] == key && forwarded(key) {
				continue
			}
			delete(s.subs, key)
			s.retired[sub] = struct{}{}
		}
		for _, p := range r.members {
			if p == s || !p.state.Publish || p.state.Group != s.state.Group {
				continue
			}
			for _, pt := range p.pubs {
				if _, ok := s.subs[pt]; ok || !forwarded(pt) {
					continue
				}
				dt := forward.NewDownTrack(pt.recv, pt.trackID, pt.streamID())
				dt.SetDirect(s.udp.Load())
				dt.SetTransport(s.tw)
				s.subs[pt] = &subscription{pt: pt, dt: dt}
			}
		}
		for pt, sub := range s.subs {
			on := pt.owner.state.Cam
			if pt.recv.Kind() == webrtc.RTPCodecTypeAudio {
				on = pt.owner.state.Mic
			} else if pt.screen() {
				on = true // a share is not the camera: publishing is enough
			}
			after = append(after, func() { sub.dt.SetPaused(!on) })
		}
		s.queueUpdateLocked()
	}
	return after
}

// reconcile runs reconcileLocked for a member's room.
func (w *Worker) reconcile(r *room) {
	w.mu.Lock()
	if w.rooms[r.id] != r {
		w.mu.Unlock()
		return
	}
	after := w.reconcileLocked(r)
	w.mu.Unlock()
	for _, f := range after {
		f()
	}
}

// closeMember stops a member already removed from its room (the others'
// subscriptions to its tracks were dropped when it was removed) and keeps
// its counters.
func (w *Worker) closeMember(m *member) {
	pubs, subs := m.close()
	for _, p := range pubs {
		w.gonePLIs.Add(p.recv.Stats().PLIs)
	}
	for _, s := range subs {
		ds := s.dt.Stats()
		w.gonePackets.Add(ds.Packets)
		w.goneBytes.Add(ds.Bytes)
		w.goneNACKs.Add(ds.NACKs)
		w.goneResent.Add(ds.Resent)
	}
}

// reportInterval is how often each subscriber connection gets its
// sender reports, as from pion's sender-report interceptor.
const reportInterval = time.Second

// reportLoop sends every connection its sender reports
// (forward.Transport.SendReports), one compound per connection, about
// once a second: one goroutine and one wake-up for the worker, where
// pion's interceptor had a goroutine per connection and took a lock per
// forwarded packet.
func (w *Worker) reportLoop() {
	defer w.wg.Done()
	t := time.NewTicker(reportInterval)
	defer t.Stop()
	var tws []*forward.Transport
	for {
		var now time.Time
		select {
		case <-w.done:
			return
		case now = <-t.C:
		}
		w.mu.Lock()
		for _, r := range w.rooms {
			for _, m := range r.members {
				tws = append(tws, m.tw)
			}
		}
		w.mu.Unlock()
		for _, tw := range tws {
			tw.SendReports(now)
		}
		clear(tws)
		tws = tws[:0]
	}
}

// speakerLoop turns audio levels (RFC 6464, read by each audio
// Receiver) into active-speaker events: Config.ActiveSpeaker, and an
// active.speaker message to every member of the group, on change only and
// at most once per speakerMinGap per group.
func (w *Worker) speakerLoop() {
	defer w.wg.Done()
	t := time.NewTicker(speakerInterval)
	defer t.Stop()
	for {
		select {
		case <-w.done:
			return
		case <-t.C:
		}
		type dest struct {
			id   MemberID
			conn ConnectionID
		}
		type event struct {
			room   RoomID
			group  int
			member MemberID
			to     []dest
		}
		var events []event
		now := time.Now()
		w.mu.Lock()
		for _, r := range w.rooms {
			loudest := map[int]MemberID{}
			level := map[int]int{}
			for _, m := range r.members {
				if !m.state.Publish || !m.state.Mic {
					continue
				}
				for _, p := range m.pubs {
					if p.recv.Kind() != webrtc.RTPCodecTypeAudio {
						continue
					}
					if l := p.recv.AudioLevel(); l > speakingLevel && l > level[m.state.Group] {
						level[m.state.Group], loudest[m.state.Group] = l, m.state.ID
					}
				}
			}
			for g, id := range loudest {
				if r.speakers[g] == id || now.Sub(r.spokeAt[g]) < speakerMinGap {
					continue
				}
				r.speakers[g], r.spokeAt[g] = id, now
				e := event{room: r.id, group: g, member: id}
				for _, m := range r.members {
					if m.state.Group == g {
						e.to = append(e.to, dest{m.id, m.state.Connection})
					}
				}
				events = append(events, e)
			}
		}
		w.mu.Unlock()
		for _, e := range events {
			if w.cfg.ActiveSpeaker != nil {
				w.cfg.ActiveSpeaker(e.room, e.group, e.member)
			}
			payload, _ := json.Marshal(speakerPayload{e.member})
			for _, d := range e.to {
				ctx, cancel := context.WithTimeout(context.Background(), signalTimeout)
				if err := w.cfg.Signal(ctx, e.room, d.id, d.conn, speakerMsg, payload); err != nil {
					w.log.Debug("sfu: active speaker", "member", d.id, "err", err)
				}
				cancel()
			}
		}
	}
}

// speakerPayload is the body of an active.speaker message.
type speakerPayload struct {
	UserID MemberID `json:"userId"`
}

// speakingLevel is the loudness (127 minus the RFC 6464 level in -dBov)
// above which a member counts as speaking: louder than -70 dBov.
const speakingLevel = 57
