package turnserver_test

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"math/big"
	"net"
	"net/http/httptest"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/greenroom-live/greenroom/turnserver"
	"github.com/pion/logging"
	"github.com/pion/stun/v3"
	"github.com/pion/turn/v4"
	"github.com/prometheus/client_golang/prometheus"
)

const testSecret = "greenroom-test-secret"

// loopback is the allow-list of the local runner.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// startServer starts a server on 127.0.0.1 with UDP and TCP and closes it
// when the test ends.
func startServer(t *testing.T, cfg turnserver.Config) *turnserver.Server {
	t.Helper()
	cfg.UDPAddrs = []string{"127.0.0.1:0"}
	cfg.TCPAddrs = []string{"127.0.0.1:0"}
	if cfg.Secret == "" {
		cfg.Secret = testSecret
	}
	s, err := turnserver.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})

	return s
}

func quietLogs() logging.LoggerFactory {
	f := logging.NewDefaultLoggerFactory()
	f.DefaultLogLevel = logging.LogLevelDisabled

	return f
}

// restPassword is the REST scheme's password, computed here independently
// of the package.
func restPassword(secret, username string) string {
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(username))

	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func goodCredentials(t *testing.T, user string) (string, string) {
	t.Helper()
	username, password, err := turn.GenerateLongTermTURNRESTCredentials(testSecret, user, time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	return username, password
}

// udpClient is a pion TURN client over its own UDP socket on 127.0.0.1.
type udpClient struct {
	*turn.Client
	conn   net.PacketConn
	server net.Addr
}

func newUDPClient(t *testing.T, s *turnserver.Server, username, password string, rto time.Duration) *udpClient {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	server := s.UDPAddrs()[0]
	c, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: server.String(),
		TURNServerAddr: server.String(),
		Username:       username,
		Password:       password,
		Conn:           conn,
		RTO:            rto,
		LoggerFactory:  quietLogs(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		_ = conn.Close()
	})

	return &udpClient{Client: c, conn: conn, server: server}
}

func allocate(t *testing.T, s *turnserver.Server, username, password string) (net.PacketConn, error) {
	t.Helper()
	c := newUDPClient(t, s, username, password, 50*time.Millisecond)
	relay, err := c.Allocate()
	if err == nil {
		t.Cleanup(func() { _ = relay.Close() })
	}

	return relay, err
}

func turnCode(err error) int {
	var te *stun.TurnError
	if errors.As(err, &te) {
		return int(te.ErrorCodeAttr.Code)
	}

	return 0
}

// metric scrapes the server's metrics handler and returns the value of
// the sample whose name and labels are exactly series.
func metric(t *testing.T, s *turnserver.Server, series string) float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	s.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if ok && name == series {
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				t.Fatal(err)
			}

			return v
		}
	}
	t.Fatalf("no series %s in the metrics", series)

	return 0
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestNewValidates(t *testing.T) {
	cert := selfSigned(t)
	tests := []struct {
		name string
		cfg  turnserver.Config
		err  error
	}{
		{"no secret", turnserver.Config{UDPAddrs: []string{"127.0.0.1:0"}}, turnserver.ErrNoSecret},
		{"no relay IP", turnserver.Config{Secret: "s", UDPAddrs: []string{":0"}}, turnserver.ErrRelayIP},
		{"IPv6 relay IP", turnserver.Config{Secret: "s", UDPAddrs: []string{"127.0.0.1:0"},
			RelayIP: netip.MustParseAddr("2001:db8::1")}, turnserver.ErrRelayIP},
		{"TLS without certificate", turnserver.Config{Secret: "s", UDPAddrs: []string{"127.0.0.1:0"},
			TLSAddrs: []string{"127.0.0.1:0"}}, turnserver.ErrTLSNoCertificate},
		{"half a port range", turnserver.Config{Secret: "s", UDPAddrs: []string{"127.0.0.1:0"},
			RelayMinPort: 50000}, turnserver.ErrRelayPortRange},
		{"inverted port range", turnserver.Config{Secret: "s", UDPAddrs: []string{"127.0.0.1:0"},
			RelayMinPort: 50010, RelayMaxPort: 50000}, turnserver.ErrRelayPortRange},
		{"ok", turnserver.Config{Secret: "s", UDPAddrs: []string{"127.0.0.1:0"},
			TLSAddrs: []string{"127.0.0.1:0"}, TLSCertificates: []tls.Certificate{cert}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := turnserver.New(tt.cfg)
			if !errors.Is(err, tt.err) {
				t.Fatalf("New = %v, want %v", err, tt.err)
			}
			if s != nil {
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestRegistryIsReleasedOnClose(t *testing.T) {
	reg := prometheus.NewRegistry()
	cfg := turnserver.Config{Secret: "s", UDPAddrs: []string{"127.0.0.1:0"}, Registry: reg}
	a, err := turnserver.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := turnserver.New(cfg); err == nil {
		t.Fatal("a second server registered the same metrics on one registry")
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := turnserver.New(cfg)
	if err != nil {
		t.Fatalf("New after Close: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestAllocateWithGoodCredentials(t *testing.T) {
	s := startServer(t, turnserver.Config{})
	username, password := goodCredentials(t, "u1")
	relay, err := allocate(t, s, username, password)
	if err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	addr, ok := relay.LocalAddr().(*net.UDPAddr)
	if !ok || !addr.IP.Equal(net.IPv4(127, 0, 0, 1)) || addr.Port == 0 {
		t.Fatalf("relayed address %v, want 127.0.0.1 and a port", relay.LocalAddr())
	}
	if n := s.AllocationCount(); n != 1 {
		t.Errorf("AllocationCount = %d, want 1", n)
	}
	if v := metric(t, s, "greenroom_turn_allocations_active"); v != 1 {
		t.Errorf("allocations_active = %v, want 1", v)
	}
	if v := metric(t, s, "greenroom_turn_allocations_total"); v != 1 {
		t.Errorf("allocations_total = %v, want 1", v)
	}
}

func TestRelayIPIsAdvertised(t *testing.T) {
	s := startServer(t, turnserver.Config{RelayIP: netip.MustParseAddr("203.0.113.7")})
	username, password := goodCredentials(t, "u1")
	relay, err := allocate(t, s, username, password)
	if err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	if addr := relay.LocalAddr().(*net.UDPAddr); !addr.IP.Equal(net.ParseIP("203.0.113.7")) {
		t.Fatalf("relayed address %v, want the public IP 203.0.113.7", addr)
	}
}

func TestBadCredentialsAreRefused(t *testing.T) {
	s := startServer(t, turnserver.Config{MaxLifetime: 24 * time.Hour})
	stamp := func(d time.Duration) string { return strconv.FormatInt(time.Now().Add(d).Unix(), 10) }
	good, goodPass := goodCredentials(t, "u1")
	expired := stamp(-time.Minute) + ":u1"
	tooLong := stamp(48*time.Hour) + ":u1"
	tampered := stamp(2*time.Hour) + ":u1" // A later expiry with the password of good.
	tests := []struct {
		name, username, password, reason string
	}{
		{"expired", expired, restPassword(testSecret, expired), "expired"},
		{"past the maximum lifetime", tooLong, restPassword(testSecret, tooLong), "lifetime"},
		{"no colon", stamp(time.Hour), restPassword(testSecret, stamp(time.Hour)), "malformed"},
		{"non-numeric expiry", "later:u1", restPassword(testSecret, "later:u1"), "malformed"},
		{"tampered username", tampered, goodPass, "integrity"},
		{"tampered password", good, restPassword("another-secret", good), "integrity"},
		{"another user's password", good, restPassword(testSecret, stamp(time.Hour)+":u2"), "integrity"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			series := `greenroom_turn_auth_failures_total{reason="` + tt.reason + `"}`
			before := metric(t, s, series)
			if _, err := allocate(t, s, tt.username, tt.password); err == nil {
				t.Fatal("Allocate succeeded")
			}
			if after := metric(t, s, series); after <= before {
				t.Errorf("%s did not grow (%v)", series, after)
			}
		})
	}
	if n := s.AllocationCount(); n != 0 {
		t.Errorf("AllocationCount = %d, want 0", n)
	}
}

// sendIndication is a raw TURN Send indication (RFC 8656 section 11.3)
// toward peer: it needs no credentials and skips the client's own
// permission bookkeeping, so only the server stands between it and peer.
func sendIndication(t *testing.T, peer *net.UDPAddr, data []byte) []byte {
	t.Helper()
	msg, err := stun.Build(stun.TransactionID, stun.NewType(stun.MethodSend, stun.ClassIndication),
		peerAddress{IP: peer.IP, Port: peer.Port}, stun.RawAttribute{Type: stun.AttrData, Value: data})
	if err != nil {
		t.Fatal(err)
	}

	return msg.Raw
}

type peerAddress stun.XORMappedAddress

func (p peerAddress) AddTo(m *stun.Message) error {
	return stun.XORMappedAddress(p).AddToAs(m, stun.AttrXORPeerAddress)
}

// canary listens on 127.0.0.1 and counts what reaches it.
type canary struct {
	conn  net.PacketConn
	bytes chan int
}

func newCanary(t *testing.T) *canary {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &canary{conn: conn, bytes: make(chan int, 64)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, _, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			c.bytes <- n
		}
	}()
	t.Cleanup(func() {
		_ = conn.Close()
		<-done
	})

	return c
}

func (c *canary) addr() *net.UDPAddr { return c.conn.LocalAddr().(*net.UDPAddr) }

// received sums what reached the canary until want bytes arrived or wait
// passed.
func (c *canary) received(want int, wait time.Duration) int {
	total := 0
	timeout := time.After(wait)
	for total < want {
		select {
		case n := <-c.bytes:
			total += n
		case <-timeout:
			return total
		}
	}

	return total
}

// relayToCanary allocates, asks for a permission toward a loopback canary
// and sends to it through the relay twice: with a Send indication and the
// client's relayed connection. It returns the bytes the canary received
// within a bounded wait and whether the permission was granted.
func relayToCanary(t *testing.T, allow []netip.Prefix) (received int, permitted bool, s *turnserver.Server) {
	t.Helper()
	s = startServer(t, turnserver.Config{AllowPeers: allow})
	can := newCanary(t)
	username, password := goodCredentials(t, "u1")
	c := newUDPClient(t, s, username, password, 10*time.Millisecond)
	relay, err := c.Allocate()
	if err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	t.Cleanup(func() { _ = relay.Close() })

	permErr := c.CreatePermission(can.addr())
	payload := []byte("canary-payload")
	if _, err := c.conn.WriteTo(sendIndication(t, can.addr(), payload), c.server); err != nil {
		t.Fatal(err)
	}
	wrote := make(chan error, 1)
	go func() {
		_, err := relay.WriteTo(payload, can.addr())
		wrote <- err
	}()
	select {
	case err := <-wrote:
		if (err == nil) != (permErr == nil) {
			t.Errorf("relayed write: %v, with permission error %v", err, permErr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("relayed write did not return")
	}

	return can.received(2*len(payload), time.Second), permErr == nil, s
}

func TestRelayToLoopbackIsRefused(t *testing.T) {
	got, permitted, s := relayToCanary(t, nil)
	if permitted {
		t.Error("CreatePermission toward loopback succeeded")
	}
	if got != 0 {
		t.Errorf("the loopback canary received %d bytes through the relay, want 0", got)
	}
	if v := metric(t, s, "greenroom_turn_permission_denials_total"); v < 1 {
		t.Errorf("permission_denials_total = %v, want at least 1", v)
	}
}

// TestRelayToAllowListedLoopback shows the canary test can fail: with
// loopback allow-listed, the same steps deliver the bytes.
func TestRelayToAllowListedLoopback(t *testing.T) {
	got, permitted, s := relayToCanary(t, loopback)
	if !permitted {
		t.Error("CreatePermission toward allow-listed loopback failed")
	}
	if want := 2 * len("canary-payload"); got != want {
		t.Errorf("the canary received %d bytes, want %d", got, want)
	}
	// The counter grows right after the send, so maybe after the canary read.
	eventually(t, "relayed_bytes_total to peers to count both sends", func() bool {
		return metric(t, s, `greenroom_turn_relayed_bytes_total{direction="to_peers"}`) >= 2*float64(len("canary-payload"))
	})
}

func TestUserQuota(t *testing.T) {
	s := startServer(t, turnserver.Config{UserQuota: 2})
	alice, alicePass := goodCredentials(t, "alice")
	var first net.PacketConn
	for i := range 2 {
		relay, err := allocate(t, s, alice, alicePass)
		if err != nil {
			t.Fatalf("allocation %d of alice: %v", i+1, err)
		}
		if first == nil {
			first = relay
		}
	}
	// Another credential of the same user counts toward the same quota.
	again, againPass, err := turn.GenerateLongTermTURNRESTCredentials(testSecret, "alice", 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, cred := range [][2]string{{alice, alicePass}, {again, againPass}} {
		if _, err := allocate(t, s, cred[0], cred[1]); turnCode(err) != int(stun.CodeAllocQuotaReached) {
			t.Fatalf("allocation 3 of alice: %v, want 486", err)
		}
	}
	bob, bobPass := goodCredentials(t, "bob")
	if _, err := allocate(t, s, bob, bobPass); err != nil {
		t.Fatalf("allocation of bob: %v", err)
	}
	if v := metric(t, s, `greenroom_turn_quota_refusals_total{scope="user"}`); v != 2 {
		t.Errorf("quota_refusals_total{user} = %v, want 2", v)
	}
	// Releasing an allocation frees its slot.
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the released allocation to go", func() bool { return s.AllocationCount() == 2 })
	if _, err := allocate(t, s, alice, alicePass); err != nil {
		t.Fatalf("allocation of alice after a release: %v", err)
	}
}

func TestTotalQuota(t *testing.T) {
	s := startServer(t, turnserver.Config{TotalQuota: 2})
	for _, user := range []string{"alice", "bob"} {
		username, password := goodCredentials(t, user)
		if _, err := allocate(t, s, username, password); err != nil {
			t.Fatalf("allocation of %s: %v", user, err)
		}
	}
	username, password := goodCredentials(t, "carol")
	if _, err := allocate(t, s, username, password); turnCode(err) != int(stun.CodeAllocQuotaReached) {
		t.Fatalf("allocation of carol: %v, want 486", err)
	}
	if v := metric(t, s, `greenroom_turn_quota_refusals_total{scope="total"}`); v != 1 {
		t.Errorf("quota_refusals_total{total} = %v, want 1", v)
	}
}

// streamAllocate allocates over a stream connection (TCP or TLS).
func streamAllocate(t *testing.T, conn net.Conn, server net.Addr, user string) (*turn.Client, net.PacketConn) {
	t.Helper()
	username, password := goodCredentials(t, user)
	c, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: server.String(),
		TURNServerAddr: server.String(),
		Username:       username,
		Password:       password,
		Conn:           turn.NewSTUNConn(conn),
		LoggerFactory:  quietLogs(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		_ = conn.Close()
	})
	relay, err := c.Allocate()
	if err != nil {
		t.Fatalf("Allocate over %s: %v", server.Network(), err)
	}
	t.Cleanup(func() { _ = relay.Close() })

	return c, relay
}

func TestAllocateOverTCP(t *testing.T) {
	s := startServer(t, turnserver.Config{})
	server := s.TCPAddrs()[0]
	conn, err := net.Dial("tcp", server.String())
	if err != nil {
		t.Fatal(err)
	}
	streamAllocate(t, conn, server, "u1")
	if n := s.AllocationCount(); n != 1 {
		t.Errorf("AllocationCount = %d, want 1", n)
	}
	// Closing the connection deletes its allocation.
	_ = conn.Close()
	eventually(t, "the allocation to go with its connection", func() bool { return s.AllocationCount() == 0 })
}

func TestAllocateOverTLS(t *testing.T) {
	cert := selfSigned(t)
	s := startServer(t, turnserver.Config{
		TLSAddrs: []string{"127.0.0.1:0"}, TLSCertificates: []tls.Certificate{cert},
	})
	roots := x509.NewCertPool()
	roots.AddCert(cert.Leaf)
	server := s.TLSAddrs()[0]
	conn, err := tls.Dial("tcp", server.String(), &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	streamAllocate(t, conn, server, "u1")
}

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "turn test"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}

	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	s, err := turnserver.New(turnserver.Config{
		Secret: testSecret, UDPAddrs: []string{"127.0.0.1:0"}, TCPAddrs: []string{"127.0.0.1:0"},
		AllowPeers: loopback,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Live allocations over UDP and TCP, with a permission, at Close.
	username, password := goodCredentials(t, "u1")
	uc := newUDPClient(t, s, username, password, 50*time.Millisecond)
	urelay, err := uc.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	if err := uc.CreatePermission(uc.conn.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	tcp, err := net.Dial("tcp", s.TCPAddrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	tc, trelay := streamAllocate(t, tcp, s.TCPAddrs()[0], "u2")
	if n := s.AllocationCount(); n != 2 {
		t.Fatalf("AllocationCount = %d, want 2", n)
	}

	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	// The server closed the TCP connection.
	_ = tcp.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := tcp.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the TCP connection is still open after Close: %v", err)
	}
	// The clients' own goroutines end with their relayed connections.
	_ = urelay.Close()
	_ = trelay.Close()
	uc.Close()
	_ = uc.conn.Close()
	tc.Close()
	_ = tcp.Close()

	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after Close, %d before:\n%s",
				runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
}
