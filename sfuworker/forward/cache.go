package forward

import "sync/atomic"

// cacheSize is how many packets a layer's retransmission cache keeps, and
// how many sent sequence numbers a DownTrack remembers: at 175 packets/s
// about 2.9 s of video, many round trips.
const cacheSize = 512

// rtxCache is the retransmission cache of one video layer, shared by
// every subscriber of the track (the approach of LiveKit and Galène): it
// holds a reference on each of the last cacheSize packets the layer
// received, by sequence number, so a NACK from any subscriber is answered
// from it without a copy per subscriber. The layer's reader is its one
// writer; subscribers' RTCP readers look packets up concurrently, lock
// free.
type rtxCache struct {
	slots [cacheSize]atomic.Pointer[packet]
}

// put caches p, which the caller holds a reference on, and lets go of
// the packet it replaces. Only the layer's reader calls it.
func (c *rtxCache) put(p *packet) {
	p.refs.Add(1)
	if old := c.slots[p.hdr.SequenceNumber%cacheSize].Swap(p); old != nil {
		old.release()
	}
}

// get returns the cached packet with sequence number seq, with a
// reference the caller releases, or nil if it is no longer cached.
func (c *rtxCache) get(seq uint16, layer int32) *packet {
	p := c.slots[seq%cacheSize].Load()
	if p == nil || !p.acquire() {
		return nil
	}
	// The slot's packet may have been replaced and recycled between the
	// load and the acquire: it is valid only if it is still the one asked
	// for.
	if p.hdr.SequenceNumber != seq || p.layer != layer {
		p.release()
		return nil
	}
	return p
}

// clear lets go of every cached packet.
func (c *rtxCache) clear() {
	for i := range c.slots {
		if old := c.slots[i].Swap(nil); old != nil {
			old.release()
		}
	}
}

// sentMap remembers, for the last cacheSize sequence numbers a DownTrack
// sent, which source packet each one was and the timestamp offset it was
// sent with, so a NACK in the subscriber's numbering maps back to the
// shared cache. One word per entry (4 KiB per subscribed video track),
// written by the DownTrack's writer and read by its RTCP reader.
type sentMap struct {
	slots [cacheSize]atomic.Uint64
}

// An entry packs: bits 0–15 the source sequence number, 16–47 the
// timestamp offset, 48–49 the layer, 50–56 the top seven bits of the sent
// sequence number (its low nine are the slot), 63 set when the entry is
// valid.
const sentValid = 1 << 63

func (m *sentMap) record(seq, src uint16, tsOff uint32, layer int32) {
	m.slots[seq%cacheSize].Store(sentValid | uint64(seq>>9)<<50 | uint64(layer&3)<<48 | uint64(tsOff)<<16 | uint64(src))
}

// lookup maps a sent sequence number back to its source packet.
func (m *sentMap) lookup(seq uint16) (src uint16, tsOff uint32, layer int32, ok bool) {
	v := m.slots[seq%cacheSize].Load()
	if v&sentValid == 0 || uint16(v>>50)&0x7f != seq>>9 {
		return 0, 0, 0, false
	}
	return uint16(v), uint32(v >> 16), int32(v>>48) & 3, true
}
