// Package turnserver is Greenroom's TURN server (RFC 8656), built on
// pion/turn v4: UDP and TCP listeners (TLS when a certificate is given),
// TURN REST-scheme credentials checked against the secret the API mints
// them with, a peer policy that keeps relays away from loopback, private
// and other special-purpose addresses, per-user and total allocation
// quotas, and Prometheus metrics.
//
// A Server lives from New to Close: New binds every socket and starts
// serving; Close stops serving, closes every socket and connection, and
// waits for pion's goroutines to end.
package turnserver

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/pion/turn/v4"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of Config's zero values.
const (
	DefaultAddr        = ":3478"
	DefaultTLSAddr     = ":5349"
	DefaultRealm       = "greenroom"
	DefaultMaxLifetime = 24 * time.Hour
	DefaultUserQuota   = 10
	DefaultTotalQuota  = 10000
)

// closeTimeout bounds how long Close waits for pion's goroutines.
const closeTimeout = 5 * time.Second

// Config configures a Server. Zero values are the defaults; Secret is
// required.
type Config struct {
	// UDPAddrs and TCPAddrs are the addresses to listen on for TURN over
	// UDP and TCP; when both are empty the server listens on DefaultAddr
	// with both. "127.0.0.1:0" picks a free port: read it back with
	// Server.UDPAddrs and Server.TCPAddrs.
	UDPAddrs []string
	TCPAddrs []string

	// TLSAddrs are the addresses to listen on for TURN over TLS; when a
	// certificate is given and TLSAddrs is empty, DefaultTLSAddr.
	TLSAddrs []string
	// TLSCertFile and TLSKeyFile are a PEM certificate chain and key.
	TLSCertFile string
	TLSKeyFile  string
	// TLSCertificates are certificates given directly, beside or instead
	// of the files.
	TLSCertificates []tls.Certificate

	// RelayIP is the address clients are told their relay has
	// (XOR-RELAYED-ADDRESS): the public IP behind a NAT 1:1 or a task's
	// public IP. Zero: RelayBindIP when it is a specific address. pion/turn
	// relays over UDP on IPv4, so it must be IPv4.
	RelayIP netip.Addr
	// RelayBindIP is the local address relay sockets bind to. Zero: the IP
	// of the first listen address when it is a specific one, else 0.0.0.0.
	RelayBindIP netip.Addr
	// RelayMinPort and RelayMaxPort bound the relay ports (both or
	// neither); zero: any free port.
	RelayMinPort uint16
	RelayMaxPort uint16

	// Realm is the long-term credential realm (DefaultRealm when empty).
	Realm string
	// Secret is the shared secret the API mints credentials with.
	Secret string
	// MaxLifetime is the longest a credential may still be valid for: a
	// username whose expiry lies further ahead is refused
	// (DefaultMaxLifetime when zero).
	MaxLifetime time.Duration

	// UserQuota is how many allocations one user id may hold at once, and
	// TotalQuota how many the server holds; past them an Allocate gets 486
	// Allocation Quota Reached. Zero: DefaultUserQuota and
	// DefaultTotalQuota; negative: no limit.
	UserQuota  int
	TotalQuota int

	// AllowPeers are the prefixes of special-purpose addresses relays may
	// reach nonetheless (the local runner allows 127.0.0.0/8 and ::1/128).
	AllowPeers []netip.Prefix

	// Registry receives the server's metrics and is what MetricsHandler
	// serves; nil: a registry of the server's own.
	Registry *prometheus.Registry
	// Logger receives the server's and pion's logs; nil: discarded.
	Logger *slog.Logger
	// Now is the clock credentials are checked with; nil: time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() Config {
	if len(c.UDPAddrs) == 0 && len(c.TCPAddrs) == 0 {
		c.UDPAddrs = []string{DefaultAddr}
		c.TCPAddrs = []string{DefaultAddr}
	}
	if len(c.TLSAddrs) == 0 && (len(c.TLSCertificates) > 0 || c.TLSCertFile != "") {
		c.TLSAddrs = []string{DefaultTLSAddr}
	}
	if c.Realm == "" {
		c.Realm = DefaultRealm
	}
	if c.MaxLifetime == 0 {
		c.MaxLifetime = DefaultMaxLifetime
	}
	if c.UserQuota == 0 {
		c.UserQuota = DefaultUserQuota
	}
	if c.TotalQuota == 0 {
		c.TotalQuota = DefaultTotalQuota
	}
	if !c.RelayBindIP.IsValid() {
		c.RelayBindIP = netip.IPv4Unspecified()
		if ip, ok := firstListenIP(c); ok {
			c.RelayBindIP = ip
		}
	}
	c.RelayBindIP = c.RelayBindIP.Unmap()
	if !c.RelayIP.IsValid() && !c.RelayBindIP.IsUnspecified() {
		c.RelayIP = c.RelayBindIP
	}
	c.RelayIP = c.RelayIP.Unmap()
	if c.Registry == nil {
		c.Registry = prometheus.NewRegistry()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}

	return c
}

// firstListenIP is the IP of the first listen address when it is a
// specific IPv4 address.
func firstListenIP(c Config) (netip.Addr, bool) {
	addrs := append(append(append([]string(nil), c.UDPAddrs...), c.TCPAddrs...), c.TLSAddrs...)
	if len(addrs) == 0 {
		return netip.Addr{}, false
	}
	host, _, err := net.SplitHostPort(addrs[0])
	if err != nil {
		return netip.Addr{}, false
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.Unmap().Is4() || ip.IsUnspecified() {
		return netip.Addr{}, false
	}

	return ip.Unmap(), true
}

func (c Config) validate() error {
	switch {
	case c.Secret == "":
		return ErrNoSecret
	case !c.RelayIP.Is4() || c.RelayIP.IsUnspecified() || !c.RelayBindIP.Is4():
		return ErrRelayIP
	case len(c.TLSAddrs) > 0 && len(c.TLSCertificates) == 0 && c.TLSCertFile == "":
		return ErrTLSNoCertificate
	case (c.RelayMinPort == 0) != (c.RelayMaxPort == 0) || c.RelayMinPort > c.RelayMaxPort:
		return ErrRelayPortRange
	case c.MaxLifetime < 0:
		return fmt.Errorf("turnserver: negative maximum lifetime %s", c.MaxLifetime)
	}

	return nil
}

// Server is a running TURN server. Its methods are safe for concurrent use.
type Server struct {
	cfg      Config
	secret   []byte
	log      *slog.Logger
	registry *prometheus.Registry
	metrics  *metrics
	policy   *PeerPolicy
	quota    *quota
	loops    loops

	udp       []net.PacketConn
	tcp       []*trackedListener
	tls       []*trackedListener
	turn      *turn.Server
	closeOnce sync.Once
	closeErr  error
}

// New binds the configured sockets and starts serving.
func New(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	var tlsConfig *tls.Config
	if len(cfg.TLSAddrs) > 0 {
		var err error
		if tlsConfig, err = loadTLS(cfg); err != nil {
			return nil, err
		}
	}
	m, err := newMetrics(cfg.Registry)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:      cfg,
		secret:   []byte(cfg.Secret),
		log:      cfg.Logger,
		registry: cfg.Registry,
		metrics:  m,
		policy:   NewPeerPolicy(cfg.AllowPeers),
		quota:    newQuota(cfg.UserQuota, cfg.TotalQuota, cfg.Now),
	}
	if err := s.listen(tlsConfig); err != nil {
		s.closeSockets()
		m.unregister(cfg.Registry)

		return nil, err
	}
	if err := s.start(); err != nil {
		s.closeSockets()
		m.unregister(cfg.Registry)

		return nil, err
	}
	s.log.Info("turn server listening",
		"udp", addrStrings(s.UDPAddrs()), "tcp", addrStrings(s.TCPAddrs()), "tls", addrStrings(s.TLSAddrs()),
		"relay_ip", cfg.RelayIP.String(), "realm", cfg.Realm)

	return s, nil
}

// loadTLS builds the TLS configuration of the TLS listeners.
func loadTLS(cfg Config) (*tls.Config, error) {
	certs := append([]tls.Certificate(nil), cfg.TLSCertificates...)
	if cfg.TLSCertFile != "" || cfg.TLSKeyFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("turnserver: load TLS certificate: %w", err)
		}
		certs = append(certs, cert)
	}

	return &tls.Config{Certificates: certs, MinVersion: tls.VersionTLS12}, nil
}

// listen binds every listening socket.
func (s *Server) listen(tlsConfig *tls.Config) error {
	for _, addr := range s.cfg.UDPAddrs {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return fmt.Errorf("turnserver: listen udp %s: %w", addr, err)
		}
		s.udp = append(s.udp, pc)
	}
	for _, addr := range s.cfg.TCPAddrs {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("turnserver: listen tcp %s: %w", addr, err)
		}
		s.tcp = append(s.tcp, s.track(l))
	}
	for _, addr := range s.cfg.TLSAddrs {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("turnserver: listen tls %s: %w", addr, err)
		}
		s.tls = append(s.tls, s.track(tls.NewListener(l, tlsConfig)))
	}

	return nil
}

func (s *Server) track(l net.Listener) *trackedListener {
	return &trackedListener{
		Listener: l, loops: &s.loops, gate: &gate{l: &s.loops},
		conns: make(map[*trackedConn]struct{}),
	}
}

// start hands the sockets to pion/turn.
func (s *Server) start() error {
	relay := &relayGenerator{
		RelayAddressGenerator: s.relayAddressGenerator(),
		loops:                 &s.loops,
		fromPeers:             s.metrics.fromPeers,
		toPeers:               s.metrics.toPeers,
	}
	cfg := turn.ServerConfig{
		LoggerFactory: pionLogs{log: s.log},
		Realm:         s.cfg.Realm,
		AuthHandler:   s.authHandler,
		QuotaHandler:  s.quotaHandler,
		EventHandler: turn.EventHandler{
			OnAuth:              s.onAuth,
			OnAllocationCreated: s.onAllocationCreated,
			OnAllocationDeleted: s.onAllocationDeleted,
		},
	}
	gates := make([]*gate, 0, len(s.udp)+len(s.tcp)+len(s.tls))
	for i, pc := range s.udp {
		g := &gate{l: &s.loops}
		gates = append(gates, g)
		s.udp[i] = &trackedPacketConn{PacketConn: pc, gate: g}
		cfg.PacketConnConfigs = append(cfg.PacketConnConfigs, turn.PacketConnConfig{
			PacketConn:            s.udp[i],
			RelayAddressGenerator: relay,
			PermissionHandler:     s.permissionHandler,
		})
	}
	for _, l := range append(append([]*trackedListener(nil), s.tcp...), s.tls...) {
		gates = append(gates, l.gate)
		cfg.ListenerConfigs = append(cfg.ListenerConfigs, turn.ListenerConfig{
			Listener:              l,
			RelayAddressGenerator: relay,
			PermissionHandler:     s.permissionHandler,
		})
	}
	for _, g := range gates {
		g.started()
	}
	srv, err := turn.NewServer(cfg)
	if err != nil {
		return fmt.Errorf("turnserver: start: %w", err)
	}
	s.turn = srv

	return nil
}

func (s *Server) relayAddressGenerator() turn.RelayAddressGenerator {
	relayIP := net.IP(s.cfg.RelayIP.AsSlice())
	bind := s.cfg.RelayBindIP.String()
	if s.cfg.RelayMinPort != 0 {
		return &turn.RelayAddressGeneratorPortRange{
			RelayAddress: relayIP,
			Address:      bind,
			MinPort:      s.cfg.RelayMinPort,
			MaxPort:      s.cfg.RelayMaxPort,
		}
	}

	return &turn.RelayAddressGeneratorStatic{RelayAddress: relayIP, Address: bind}
}

// closeSockets closes the sockets of a server that did not start.
func (s *Server) closeSockets() {
	for _, pc := range s.udp {
		_ = pc.Close()
	}
	for _, l := range append(append([]*trackedListener(nil), s.tcp...), s.tls...) {
		_ = l.shutdown()
	}
}

// Close stops the server: it closes the listeners, every TCP and TLS
// connection and every allocation, waits (a bounded time) for pion's
// goroutines to end and unregisters the metrics. It is idempotent.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		errs := []error{s.turn.Close()}
		for _, l := range append(append([]*trackedListener(nil), s.tcp...), s.tls...) {
			errs = append(errs, l.shutdown())
		}
		if !s.loops.wait(closeTimeout) {
			s.log.Warn("turn server closed with goroutines still running", "loops", s.loops.running.Load())
		}
		s.metrics.unregister(s.registry)
		s.closeErr = errors.Join(errs...)
		s.log.Info("turn server closed")
	})

	return s.closeErr
}

// UDPAddrs returns the bound UDP listen addresses.
func (s *Server) UDPAddrs() []net.Addr {
	addrs := make([]net.Addr, 0, len(s.udp))
	for _, pc := range s.udp {
		addrs = append(addrs, pc.LocalAddr())
	}

	return addrs
}

// TCPAddrs returns the bound TCP listen addresses.
func (s *Server) TCPAddrs() []net.Addr { return listenerAddrs(s.tcp) }

// TLSAddrs returns the bound TLS listen addresses.
func (s *Server) TLSAddrs() []net.Addr { return listenerAddrs(s.tls) }

func listenerAddrs(ls []*trackedListener) []net.Addr {
	addrs := make([]net.Addr, 0, len(ls))
	for _, l := range ls {
		addrs = append(addrs, l.Addr())
	}

	return addrs
}

func addrStrings(addrs []net.Addr) []string {
	out := make([]string, 0, len(addrs))
	for _, a := range addrs {
		out = append(out, a.String())
	}

	return out
}

// AllocationCount returns the number of allocations that exist now.
func (s *Server) AllocationCount() int { return s.turn.AllocationCount() }

// quotaHandler is the pion/turn QuotaHandler, asked before each
// allocation; a refusal makes pion answer 486 Allocation Quota Reached.
func (s *Server) quotaHandler(username, _ string, src net.Addr) bool {
	ok, scope := s.quota.admit(userOf(username), src)
	if !ok {
		s.metrics.quotaRefusals.WithLabelValues(scope).Inc()
		s.log.Info("turn allocation quota reached", "quota", scope, "user", userOf(username), "src", src.String())
	}

	return ok
}

func (s *Server) onAuth(src, _ net.Addr, _, username, _, method string, verdict bool) {
	if verdict {
		return
	}
	s.metrics.authFailures.WithLabelValues(reasonIntegrity).Inc()
	s.log.Debug("turn credential refused", "reason", reasonIntegrity, "method", method,
		"username", username, "src", src.String())
}

func (s *Server) onAllocationCreated(src, _ net.Addr, protocol, username, _ string, relay net.Addr, _ int) {
	s.quota.created(userOf(username), src)
	s.metrics.allocationsActive.Inc()
	s.metrics.allocationsTotal.Inc()
	s.log.Info("turn allocation created", "user", userOf(username), "src", src.String(),
		"protocol", protocol, "relay", relay.String())
}

func (s *Server) onAllocationDeleted(src, _ net.Addr, _, username, _ string) {
	s.quota.deleted(userOf(username))
	s.metrics.allocationsActive.Dec()
	s.log.Debug("turn allocation deleted", "user", userOf(username), "src", src.String())
}
