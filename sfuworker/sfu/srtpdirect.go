package sfu

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"reflect"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/pion/dtls/v3"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/greenroom-live/greenroom/sfuworker/udpbatch"
)

// directSRTP writes a subscriber connection's forwarded RTP below pion's
// SRTP session: it protects each packet with its own SRTP context, made
// from the keys the connection's DTLS handshake exported, and queues it
// straight into the worker's send batch (udpbatch) for the selected
// candidate pair's address. pion's path per packet and subscriber (the
// SRTP session's lock, marshal into a pooled buffer, the mux endpoint,
// the ICE pair, the UDP mux's write bookkeeping) was about a sixth of the
// worker's CPU. Everything else stays pion's: ICE, DTLS, RTCP (SRTCP has
// its own context and indices) and the interceptors that act on what
// the connection receives. A DownTrack writes to it directly once it
// exists (forward.Transport.Direct), past pion's writer; a write through
// pion's chain before then ends here too (headerCache is the innermost).
//
// Every packet of the connection's senders goes through it from the
// first one SRTP could carry (it is made when DTLS connects, before pion
// starts SRTP), so one context sees each SSRC from its first packet and
// the rollover counters agree with the subscriber's. When the selected
// pair is not UDP (ICE-TCP), the protected packet goes through pion's
// SRTP endpoint, the same bytes over whatever the pair is.
type directSRTP struct {
	batch    *udpbatch.Conn
	endpoint io.Writer
	// addr is the selected pair's remote address when the pair is UDP.
	addr atomic.Pointer[netip.AddrPort]

	mu    sync.Mutex // Serializes writes: the context and the buffers.
	ctx   *srtp.Context
	hdr   rtp.Header
	rhdr  rtcp.Header
	plain [maxRTPSize]byte
	enc   [maxRTPSize + 64]byte

	packets atomic.Uint64
}

// maxRTPSize bounds a forwarded packet (the publisher's MTU).
const maxRTPSize = 1500

var errRTPTooLarge = errors.New("sfu: rtp packet too large")

// WriteRTP implements forward.RTPWriter.
func (d *directSRTP) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	hl := h.MarshalSize()
	if hl+len(payload) > len(d.plain) {
		return 0, errRTPTooLarge
	}
	if _, err := h.MarshalTo(d.plain[:hl]); err != nil {
		return 0, err
	}
	n := hl + copy(d.plain[hl:], payload)
	out, err := d.ctx.EncryptRTP(d.enc[:0], d.plain[:n], &d.hdr)
	if err != nil {
		return 0, err
	}
	d.packets.Add(1)
	if a := d.addr.Load(); a != nil {
		return d.batch.WriteToAddrPort(out, *a)
	}
	return d.endpoint.Write(out)
}

// WriteRTCP implements forward.RTCPWriter: the DownTracks' sender
// reports go with the connection's own SRTCP context too. pion's
// context never sends SRTCP for these SSRCs (the worker has no sender
// report interceptor), so the two contexts' SRTCP indexes, which are
// per SSRC, never meet.
func (d *directSRTP) WriteRTCP(b []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	out, err := d.ctx.EncryptRTCP(d.enc[:0], b, &d.rhdr)
	if err != nil {
		return err
	}
	if a := d.addr.Load(); a != nil {
		_, err = d.batch.WriteToAddrPort(out, *a)
		return err
	}
	_, err = d.endpoint.Write(out)
	return err
}

// setPair follows the selected candidate pair.
func (d *directSRTP) setPair(p *webrtc.ICECandidatePair) {
	d.addr.Store(udpAddr(p))
}

// udpAddr is a UDP pair's remote address, or nil.
func udpAddr(p *webrtc.ICECandidatePair) *netip.AddrPort {
	if p == nil || p.Local == nil || p.Remote == nil || p.Local.Protocol != webrtc.ICEProtocolUDP {
		return nil
	}
	ip, err := netip.ParseAddr(p.Remote.Address)
	if err != nil {
		return nil
	}
	a := netip.AddrPortFrom(ip, p.Remote.Port)
	return &a
}

// dtlsSRTP reads the SRTP keys of dt, whose DTLS handshake has
// completed, and pion's SRTP endpoint. It must run in dt's state change
// handler for DTLSTransportStateConnected, which pion calls with dt's
// lock held right after storing the connection: dt's methods would
// deadlock there, and its fields are read directly.
//
// pion exports neither the keys nor the DTLS connection, so the fields
// are read by reflection; if a pion upgrade changes them this returns an
// error and the worker reads and writes through pion as before (the
// change that would make this unnecessary upstream:
// DTLSTransport.ExportKeyingMaterial).
func dtlsSRTP(dt *webrtc.DTLSTransport) (srtp.Config, io.Writer, error) {
	var cfg srtp.Config
	v := reflect.ValueOf(dt).Elem()
	cf, ef := v.FieldByName("conn"), v.FieldByName("srtpEndpoint")
	if !cf.IsValid() || cf.Type() != reflect.TypeFor[*dtls.Conn]() || !ef.IsValid() || ef.Kind() != reflect.Pointer {
		return cfg, nil, errors.New("sfu: pion's DTLSTransport has changed")
	}
	conn := (*dtls.Conn)(unsafe.Pointer(cf.Pointer()))
	if conn == nil || ef.IsNil() {
		return cfg, nil, errors.New("sfu: DTLS not connected")
	}
	endpoint, ok := reflect.NewAt(ef.Type(), unsafe.Pointer(ef.UnsafeAddr())).Elem().Interface().(io.Writer)
	if !ok {
		return cfg, nil, errors.New("sfu: pion's SRTP endpoint is not a writer")
	}
	profile, ok := conn.SelectedSRTPProtectionProfile()
	if !ok {
		return cfg, nil, errors.New("sfu: no SRTP profile negotiated")
	}
	state, ok := conn.ConnectionState()
	if !ok {
		return cfg, nil, errors.New("sfu: no DTLS state")
	}
	rf := reflect.ValueOf(&state).Elem().FieldByName("isClient")
	if !rf.IsValid() || rf.Kind() != reflect.Bool {
		return cfg, nil, errors.New("sfu: pion's DTLS state has changed")
	}
	cfg.Profile = srtp.ProtectionProfile(profile)
	// Cryptex (RFC 9335) as negotiated, the options pion gives its session.
	for _, f := range []struct {
		name string
		opts *[]srtp.ContextOption
	}{{"localCryptexMode", &cfg.LocalOptions}, {"remoteCryptexMode", &cfg.RemoteOptions}} {
		mf := v.FieldByName(f.name)
		if !mf.IsValid() || mf.Type() != reflect.TypeFor[srtp.CryptexMode]() {
			return cfg, nil, errors.New("sfu: pion's DTLSTransport has changed")
		}
		if mode := srtp.CryptexMode(mf.Int()); mode == srtp.CryptexModeEnabled || mode == srtp.CryptexModeRequired {
			*f.opts = append(*f.opts, srtp.Cryptex(mode))
		}
	}
	if err := cfg.ExtractSessionKeysFromDTLS(&state, rf.Bool()); err != nil {
		return cfg, nil, fmt.Errorf("sfu: srtp keys: %w", err)
	}
	return cfg, endpoint, nil
}

// newDirectSRTP makes the writer from the keys dtlsSRTP read.
func newDirectSRTP(cfg srtp.Config, endpoint io.Writer, batch *udpbatch.Conn) (*directSRTP, error) {
	ctx, err := srtp.CreateContext(cfg.Keys.LocalMasterKey, cfg.Keys.LocalMasterSalt, cfg.Profile, cfg.LocalOptions...)
	if err != nil {
		return nil, fmt.Errorf("sfu: srtp context: %w", err)
	}
	return &directSRTP{batch: batch, endpoint: endpoint, ctx: ctx}, nil
}

// newReadContext makes the context that decrypts what the remote side
// sends, for reads below pion (fastread.go), with replay protection as
// pion's session has.
func newReadContext(cfg srtp.Config) (*srtp.Context, error) {
	opts := append([]srtp.ContextOption{srtp.SRTPReplayProtection(srtpReplayWindow), srtp.SRTCPReplayProtection(srtpReplayWindow)},
		cfg.RemoteOptions...)
	ctx, err := srtp.CreateContext(cfg.Keys.RemoteMasterKey, cfg.Keys.RemoteMasterSalt, cfg.Profile, opts...)
	if err != nil {
		return nil, fmt.Errorf("sfu: srtp read context: %w", err)
	}
	return ctx, nil
}

// srtpReplayWindow is pion's default SRTP and SRTCP replay window.
const srtpReplayWindow = 64

// peerAPI returns the API pion made for pc, whose interceptor chain is
// pc's own (pion's AddTrack makes a reused transceiver's sender with it).
// A sender made with the worker's shared API instead has none of the
// connection's interceptors: its RTCP is read, and what it writes before
// the connection has the worker's SRTP writer is written, past them. It
// falls back to the shared API if pion's PeerConnection has changed.
func peerAPI(pc *webrtc.PeerConnection, shared *webrtc.API) *webrtc.API {
	f := reflect.ValueOf(pc).Elem().FieldByName("api")
	if !f.IsValid() || f.Type() != reflect.TypeFor[*webrtc.API]() || f.IsNil() {
		return shared
	}
	return (*webrtc.API)(unsafe.Pointer(f.Pointer()))
}
