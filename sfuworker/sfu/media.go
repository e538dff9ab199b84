package sfu

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"net"

	"github.com/pion/dtls/v3"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/sdp/v3"
	"github.com/pion/transport/v5/stdnet"
	"github.com/pion/webrtc/v4"
)

// newAPI builds the webrtc.API all of a worker's PeerConnections share:
// one UDP socket through the ICE UDP mux, ICE-TCP on one listener, NAT
// 1:1 addresses, host candidates only, and the interceptors: NACK
// generator (toward publishers), RTCP sender and receiver reports, TWCC
// feedback, with the audio level and simulcast header extensions. There
// is no NACK responder: it would copy every packet sent into a ring per
// subscriber; subscribers' NACKs are answered by the forwarding layer
// from one retransmission cache per published track.
func newAPI(cfg Config, routes *feedbackRoutes, taps *fastTaps) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	fb := []webrtc.RTCPFeedback{
		{Type: "goog-remb"}, {Type: "ccm", Parameter: "fir"},
		{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: webrtc.TypeRTCPFBTransportCC},
	}
	codecs := []struct {
		kind webrtc.RTPCodecType
		c    webrtc.RTPCodecParameters
	}{
		{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1",
			RTCPFeedback: []webrtc.RTCPFeedback{{Type: webrtc.TypeRTCPFBTransportCC}},
		}, PayloadType: 111}},
		{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: fb,
		}, PayloadType: 96}},
		{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeVP9, ClockRate: 90000, SDPFmtpLine: "profile-id=0", RTCPFeedback: fb,
		}, PayloadType: 98}},
		{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
			SDPFmtpLine:  "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
			RTCPFeedback: fb,
		}, PayloadType: 102}},
	}
	for _, c := range codecs {
		if err := m.RegisterCodec(c.c, c.kind); err != nil {
			return nil, fmt.Errorf("sfu: register codec: %w", err)
		}
	}
	if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.AudioLevelURI}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, fmt.Errorf("sfu: register audio level: %w", err)
	}
	if err := webrtc.ConfigureSimulcastExtensionHeaders(m); err != nil {
		return nil, fmt.Errorf("sfu: register simulcast extensions: %w", err)
	}
	ir := &interceptor.Registry{}
	// First, so that it is the innermost: see headerCache.
	ir.Add(headerCacheFactory{routes: routes})
	gen, err := nack.NewGeneratorInterceptor()
	if err != nil {
		return nil, fmt.Errorf("sfu: nack: %w", err)
	}
	ir.Add(gen)
	// Receiver reports to publishers are pion's; the sender reports to
	// subscribers are the worker's own (forward/report.go: one compound
	// per connection a second, from Worker.reportLoop), sent with the
	// connection's SRTP writer: pion's sender-report interceptor took a
	// lock per forwarded packet and allocated each report.
	rr, err := report.NewReceiverInterceptor()
	if err != nil {
		return nil, fmt.Errorf("sfu: receiver reports: %w", err)
	}
	ir.Add(rr)
	// TWCC: the header extension and feedback, as
	// webrtc.ConfigureTWCCSender registers them, with our feedback sender
	// (twccfeedback.go) in place of pion's.
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		m.RegisterFeedback(webrtc.RTCPFeedback{Type: webrtc.TypeRTCPFBTransportCC}, kind)
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.TransportCCURI}, kind); err != nil {
			return nil, fmt.Errorf("sfu: twcc: %w", err)
		}
	}
	ir.Add(twccFeedbackFactory{log: cfg.Logger})
	if taps != nil {
		// Last, so that it is the outermost: see fastread.go.
		ir.Add(taps)
	}

	s := webrtc.SettingEngine{}
	// AES-GCM first (RFC 7714): ≈0.4 µs to protect a packet against
	// ≈2.1 µs for AES-CM with HMAC-SHA1 on these machines.
	s.SetSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AEAD_AES_256_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80)
	s.SetICEUDPMux(webrtc.NewICEUDPMux(nil, cfg.UDP))
	types := []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6}
	if cfg.TCP != nil {
		s.SetICETCPMux(webrtc.NewICETCPMux(nil, cfg.TCP, 64))
		types = append(types, webrtc.NetworkTypeTCP4, webrtc.NetworkTypeTCP6)
	}
	s.SetNetworkTypes(types)
	if len(cfg.PublicIPs) > 0 {
		if err := s.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{
			External: cfg.PublicIPs, AsCandidateType: webrtc.ICECandidateTypeHost,
		}); err != nil {
			return nil, fmt.Errorf("sfu: public ips: %w", err)
		}
	}
	if a, ok := cfg.UDP.LocalAddr().(*net.UDPAddr); ok && a.IP.IsLoopback() {
		s.SetIncludeLoopbackCandidate(true)
	}
	s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	// One view of the network for every connection: left unset, each
	// PeerConnection's ICE agent lists the machine's interfaces over
	// netlink when it is made, about a tenth of the worker's CPU in a
	// crowd's join, for candidates that come from the muxes' sockets.
	n, err := stdnet.NewNet()
	if err != nil {
		return nil, fmt.Errorf("sfu: network interfaces: %w", err)
	}
	s.SetNet(n)
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(s)), nil
}

// newCertificate makes the DTLS certificate all connections of a worker
// share, so joining does not pay for a key generation.
func newCertificate() (webrtc.Certificate, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return webrtc.Certificate{}, fmt.Errorf("sfu: key: %w", err)
	}
	c, err := webrtc.GenerateCertificate(k)
	if err != nil {
		return webrtc.Certificate{}, fmt.Errorf("sfu: certificate: %w", err)
	}
	return *c, nil
}
