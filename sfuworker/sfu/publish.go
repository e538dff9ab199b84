package sfu

import (
	"github.com/greenroom-live/greenroom/sfuworker/forward"
	"github.com/greenroom-live/greenroom/sfuworker/sfu/sdpcheck"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// onTrack starts reading a track (or a simulcast layer of one) the member
// sends, and rewires the room.
func (m *member) onTrack(pc *webrtc.PeerConnection, t *webrtc.TrackRemote, rr *webrtc.RTPReceiver) {
	w := m.w
	w.mu.Lock()
	if m.closed {
		w.mu.Unlock()
		return
	}
	pt := m.pubs[rr]
	created := pt == nil
	if created {
		var levelExt uint8
		for _, e := range rr.GetParameters().HeaderExtensions {
			if e.URI == sdp.AudioLevelURI {
				levelExt = uint8(e.ID)
			}
		}
		id := t.ID()
		if id == "" {
			id = t.Kind().String()
		}
		w.seq++
		pt = &pubTrack{owner: m, rr: rr, trackID: id, kind: t.Kind(), seq: w.seq, active: true}
		pt.recv = forward.NewReceiver(forward.ReceiverConfig{
			Codec: t.Codec(), TrackID: id, StreamID: pt.streamID(),
			AudioLevelExt: levelExt, WriteRTCP: pc.WriteRTCP, Flush: w.flush, Logger: w.log,
		})
		m.pubs[rr] = pt
		w.log.Debug("sfu: published track", "member", m.id, "track", id, "kind", pt.kind, "rid", t.RID(), "ssrc", t.SSRC())
	}
	if err := pt.recv.AddLayer(t); err != nil {
		w.mu.Unlock()
		w.log.Warn("sfu: track layer", "member", m.id, "rid", t.RID(), "err", err)
		return
	}
	rid := t.RID()
	if c := m.fastc.Load(); c != nil {
		// From now on the layer is read below pion (fastread.go).
		c.add(uint32(t.SSRC()), pt.recv)
	}
	m.wg.Add(1)
	w.mu.Unlock()
	go func() {
		// Draining the publisher's RTCP lets the interceptors see its
		// sender reports. It ends when the receiver stops: pion stops a
		// receiver whose track the publisher's description no longer
		// has, and the connection's close stops them all.
		defer m.wg.Done()
		for {
			var err error
			if rid != "" {
				_, _, err = rr.ReadSimulcastRTCP(rid)
			} else {
				_, _, err = rr.ReadRTCP()
			}
			if err != nil {
				m.ops.push(m.prunePubs)
				return
			}
		}
	}()
	if created {
		// The track may replace one pion has just taken off its
		// transceiver: let that one go first.
		m.ops.push(m.prunePubs)
		w.reconcile(m.room)
	}
}

// ScreenTrackID is the track id (the msid's second part) a publisher
// gives the video track of its screen share. The worker forwards such a
// track under its own stream id, the publisher's id and
// ScreenStreamSuffix, so that subscribers tell it from the camera; and
// while the member may publish, whatever its camera switch says
// (docs/protocol.md, "Screen share").
const ScreenTrackID = "screen"

// ScreenStreamSuffix follows the publisher's id in a screen share's
// stream id ("~" is an msid token character no id uses).
const ScreenStreamSuffix = "~screen"

// screen reports whether the track is its publisher's screen share.
func (pt *pubTrack) screen() bool {
	return pt.kind == webrtc.RTPCodecTypeVideo && pt.trackID == ScreenTrackID
}

// streamID is the stream id subscribers see the track under.
func (pt *pubTrack) streamID() string {
	if pt.screen() {
		return string(pt.owner.state.ID) + ScreenStreamSuffix
	}
	return string(pt.owner.state.ID)
}

// prunePubs brings the member's published tracks in line with its
// connection, after each description it applies: a track whose receiver
// pion replaced or stopped has ended and leaves every subscriber; a track
// is active while the member's description sends on its transceiver.
func (m *member) prunePubs() {
	if m.pc == nil {
		return
	}
	sends := map[string]bool{}
	if rd := m.pc.RemoteDescription(); rd != nil {
		if d, err := sdpcheck.Parse(rd.SDP); err == nil {
			for _, s := range d.Sections {
				sends[s.Mid] = s.Sends()
			}
		}
	}
	mids := map[*webrtc.RTPReceiver]string{}
	for _, t := range m.pc.GetTransceivers() {
		if r := t.Receiver(); r != nil {
			mids[r] = t.Mid()
		}
	}
	w := m.w
	w.mu.Lock()
	if m.closed {
		w.mu.Unlock()
		return
	}
	var gone []*pubTrack
	changed := false
	for rr, pt := range m.pubs {
		mid, ok := mids[rr]
		if !ok {
			delete(m.pubs, rr)
			gone = append(gone, pt)
			changed = true
			continue
		}
		if active := sends[mid]; active != pt.active {
			w.log.Debug("sfu: published track active", "member", m.id, "track", pt.trackID, "mid", mid, "active", active)
			pt.active = active
			changed = true
		}
	}
	w.mu.Unlock()
	for _, pt := range gone {
		w.log.Debug("sfu: published track ended", "member", m.id, "track", pt.trackID)
		if c := m.fastc.Load(); c != nil {
			c.remove(pt.recv)
		}
		_ = pt.rr.Stop()
		pt.recv.Close()
		w.gonePLIs.Add(pt.recv.Stats().PLIs)
	}
	if changed {
		w.reconcile(m.room)
	}
}

// forwarded reports whether a published track goes to subscribers: it is
// active, and no newer active track of the same member has its id (a
// client restarting a track on another transceiver keeps its id; the
// older one is on its way out, and one msid must never be on two media
// sections). Called with the worker's mu held.
func forwarded(pt *pubTrack) bool {
	if !pt.active {
		return false
	}
	for _, o := range pt.owner.pubs {
		if o != pt && o.active && o.trackID == pt.trackID && o.seq > pt.seq {
			return false
		}
	}
	return true
}

// publishing is the body of a media.publishing frame: whether what the
// member sends is forwarded, and if not, why. State is "forwarding"
// (Audio and Video say which kinds), "devices_off" (the kinds it sends
// are switched off with devices.set), "not_allowed" (the session does
// not let it publish now: off stage, or past a breakout room's limit) or
// "idle" (it sends nothing).
type publishing struct {
	State string `json:"state"`
	Audio bool   `json:"audio"`
	Video bool   `json:"video"`
}

// sendNotice tells the member when whether its media is forwarded
// changes, so that a client never stays silent without knowing why.
func (m *member) sendNotice() {
	if m.pc == nil || !m.started {
		return
	}
	var audio, video bool
	if rd := m.pc.RemoteDescription(); rd != nil {
		if d, err := sdpcheck.Parse(rd.SDP); err == nil {
			for _, s := range d.Sections {
				if !s.Sends() || (len(s.Msids) == 0 && len(s.SSRCs) == 0 && len(s.RIDs) == 0) {
					continue
				}
				switch s.Kind {
				case "audio":
					audio = true
				case "video":
					video = true
				}
			}
		}
	}
	m.w.mu.Lock()
	st := m.state
	m.w.mu.Unlock()
	n := publishing{State: "idle"}
	switch {
	case !audio && !video:
	case !st.Publish:
		n.State = "not_allowed"
	default:
		n.Audio, n.Video = audio && st.Mic, video && st.Cam
		n.State = "forwarding"
		if !n.Audio && !n.Video {
			n.State = "devices_off"
		}
	}
	if n == m.notice || (m.notice == publishing{} && n.State == "idle") {
		m.notice = n
		return
	}
	m.notice = n
	m.send(publishingMsg, n)
}

// publishingMsg is the frame that says whether a member's media is
// forwarded.
const publishingMsg = "media.publishing"
