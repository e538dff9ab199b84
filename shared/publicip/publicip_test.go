package publicip

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/stun/v3"
)

// stunServer is a STUN responder on 127.0.0.1 for the tests. Its life
// cycle: newSTUNServer starts its goroutine; the test's cleanup closes
// the socket and waits for it.
type stunServer struct {
	conn     net.PacketConn
	requests atomic.Int32
	done     chan struct{}

	// mapped is the address answered; the request's source when zero.
	mapped netip.Addr
	// drop is how many requests go unanswered first; silent answers
	// none.
	drop   int32
	silent bool
	// reply, when set, builds the answer instead.
	reply func(req *stun.Message, from *net.UDPAddr) [][]byte
}

func newSTUNServer(t *testing.T, s *stunServer) *stunServer {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.conn, s.done = conn, make(chan struct{})
	go s.serve(t)
	t.Cleanup(func() {
		_ = conn.Close()
		<-s.done
	})
	return s
}

func (s *stunServer) addr() string { return s.conn.LocalAddr().String() }

func (s *stunServer) serve(t *testing.T) {
	defer close(s.done)
	buf := make([]byte, 1500)
	for {
		n, from, err := s.conn.ReadFrom(buf)
		if err != nil {
			return
		}
		req := &stun.Message{Raw: append([]byte(nil), buf[:n]...)}
		if err := req.Decode(); err != nil || req.Type != stun.BindingRequest {
			t.Errorf("stun server: not a Binding request: %v", err)
			continue
		}
		if nth := s.requests.Add(1); s.silent || nth <= s.drop {
			continue
		}
		src := from.(*net.UDPAddr)
		var answers [][]byte
		if s.reply != nil {
			answers = s.reply(req, src)
		} else {
			answers = [][]byte{answer(t, req, s.ip(src), src.Port)}
		}
		for _, a := range answers {
			if _, err := s.conn.WriteTo(a, from); err != nil {
				return
			}
		}
	}
}

func (s *stunServer) ip(src *net.UDPAddr) net.IP {
	if s.mapped.IsValid() {
		return net.IP(s.mapped.AsSlice())
	}
	return src.IP
}

// answer builds a Binding success answer to req with setters.
func answer(t *testing.T, req *stun.Message, ip net.IP, port int, setters ...stun.Setter) []byte {
	if setters == nil {
		setters = []stun.Setter{&stun.XORMappedAddress{IP: ip, Port: port}}
	}
	all := append([]stun.Setter{stun.NewTransactionIDSetter(req.TransactionID), stun.BindingSuccess}, setters...)
	m, err := stun.Build(append(all, stun.Fingerprint)...)
	if err != nil {
		t.Errorf("stun server: build: %v", err)
		return nil
	}
	return m.Raw
}

// deadAddr is a loopback UDP address nothing answers on.
func deadAddr(t *testing.T) string {
	return newSTUNServer(t, &stunServer{silent: true}).addr()
}

var public = netip.MustParseAddr("203.0.113.7")

func TestSTUN(t *testing.T) {
	tests := []struct {
		name    string
		srv     *stunServer
		want    netip.Addr
		wantErr error
	}{
		{"public mapped address", &stunServer{mapped: public}, public, nil},
		{"source address", &stunServer{}, netip.MustParseAddr("127.0.0.1"), nil},
		{"answers the third request", &stunServer{mapped: public, drop: 2}, public, nil},
		{"silent", &stunServer{silent: true}, netip.Addr{}, ErrNoAnswer},
		{"IPv6 mapped address", &stunServer{mapped: netip.MustParseAddr("2001:db8::1")}, netip.Addr{}, ErrBadAnswer},
		{"error answer", &stunServer{reply: func(req *stun.Message, _ *net.UDPAddr) [][]byte {
			m := stun.MustBuild(stun.NewTransactionIDSetter(req.TransactionID), stun.NewType(stun.MethodBinding, stun.ClassErrorResponse),
				stun.CodeBadRequest)
			return [][]byte{m.Raw}
		}}, netip.Addr{}, ErrBadAnswer},
		{"stray packets first", &stunServer{reply: func(req *stun.Message, src *net.UDPAddr) [][]byte {
			other := stun.MustBuild(stun.TransactionID, stun.BindingSuccess, &stun.XORMappedAddress{IP: net.IPv4(198, 51, 100, 1), Port: 1})
			return [][]byte{[]byte("not stun"), other.Raw, answer(t, req, net.IP(public.AsSlice()), src.Port)}
		}}, public, nil},
		{"MAPPED-ADDRESS only", &stunServer{reply: func(req *stun.Message, src *net.UDPAddr) [][]byte {
			return [][]byte{answer(t, req, nil, 0, &stun.MappedAddress{IP: net.IP(public.AsSlice()), Port: src.Port})}
		}}, public, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newSTUNServer(t, tt.srv)
			got, err := STUN(t.Context(), srv.addr(), 3, 20*time.Millisecond)
			if !errors.Is(err, tt.wantErr) || got != tt.want {
				t.Fatalf("STUN = %v, %v; want %v, %v", got, err, tt.want, tt.wantErr)
			}
			if tt.wantErr == ErrNoAnswer && srv.requests.Load() != 3 {
				t.Errorf("%d requests, want 3", srv.requests.Load())
			}
		})
	}
}

func TestSTUNStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	addr := deadAddr(t)
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := STUN(ctx, addr, 5, time.Minute)
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("STUN = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("STUN did not stop with its context")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

// metadataServer serves an ECS task metadata v4 /task document whose
// task has addrs.
func metadataServer(t *testing.T, status int, body string) (string, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Method != http.MethodGet || r.URL.Path != "/v4/abc-123/task" {
			t.Errorf("metadata: %s %s", r.Method, r.URL.Path)
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/v4/abc-123", &calls
}

// fargateTask is the shape of a Fargate task's metadata (trimmed): the
// ENI's private address only.
func fargateTask(ips ...string) string {
	s := `{"Cluster":"arn:aws:ecs:us-east-1:111122223333:cluster/greenroom","TaskARN":"arn:aws:ecs:us-east-1:111122223333:task/greenroom/abc",` +
		`"LaunchType":"FARGATE","Containers":[{"Name":"sfuworker","Networks":[{"NetworkMode":"awsvpc","IPv4Addresses":[`
	for i, ip := range ips {
		if i > 0 {
			s += ","
		}
		s += `"` + ip + `"`
	}
	return s + `],"PrivateDNSName":"ip-10-0-1-23.ec2.internal","IPv4SubnetCIDRBlock":"10.0.1.0/24"}]}]}`
}

func TestTaskIPv4(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		body    string
		want    []netip.Addr
		wantErr error
	}{
		{"fargate", 200, fargateTask("10.0.1.23"), []netip.Addr{netip.MustParseAddr("10.0.1.23")}, nil},
		{"skips bad and repeated", 200, `{"Containers":[{"Networks":[{"IPv4Addresses":["nope","2001:db8::1","10.0.1.23"]}]},` +
			`{"Networks":[{"IPv4Addresses":["10.0.1.23","10.0.2.5"]}]}]}`,
			[]netip.Addr{netip.MustParseAddr("10.0.1.23"), netip.MustParseAddr("10.0.2.5")}, nil},
		{"no address", 200, `{"Containers":[]}`, nil, ErrMetadata},
		{"not JSON", 200, `<html>`, nil, ErrMetadata},
		{"not found", 404, `no`, nil, ErrMetadata},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			uri, _ := metadataServer(t, tt.status, tt.body)
			got, err := TaskIPv4(t.Context(), nil, uri+"/")
			if !errors.Is(err, tt.wantErr) || len(got) != len(tt.want) {
				t.Fatalf("TaskIPv4 = %v, %v; want %v, %v", got, err, tt.want, tt.wantErr)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("TaskIPv4[%d] = %v, want %v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestDiscover(t *testing.T) {
	private := netip.MustParseAddr("10.0.1.23")
	t.Run("fargate: private from metadata, public from STUN", func(t *testing.T) {
		uri, _ := metadataServer(t, 200, fargateTask("10.0.1.23"))
		srv := newSTUNServer(t, &stunServer{mapped: public})
		got, err := Discover(t.Context(), Config{MetadataURI: uri, STUNServers: []string{srv.addr()}, RTO: 20 * time.Millisecond})
		if err != nil || got != (Result{Public: public, Private: private, Source: "stun:" + srv.addr()}) {
			t.Fatalf("Discover = %+v, %v", got, err)
		}
	})
	t.Run("public address in the metadata: no STUN", func(t *testing.T) {
		uri, _ := metadataServer(t, 200, fargateTask("203.0.113.7"))
		srv := newSTUNServer(t, &stunServer{mapped: netip.MustParseAddr("198.51.100.1")})
		got, err := Discover(t.Context(), Config{MetadataURI: uri, STUNServers: []string{srv.addr()}})
		if err != nil || got.Public != public || got.Source != "ecs-metadata" || srv.requests.Load() != 0 {
			t.Fatalf("Discover = %+v, %v (%d STUN requests)", got, err, srv.requests.Load())
		}
	})
	t.Run("no metadata, first STUN server silent", func(t *testing.T) {
		srv := newSTUNServer(t, &stunServer{mapped: public})
		got, err := Discover(t.Context(), Config{STUNServers: []string{deadAddr(t), srv.addr()}, Attempts: 2, RTO: 10 * time.Millisecond})
		if err != nil || got.Public != public || got.Private.IsValid() || got.Source != "stun:"+srv.addr() {
			t.Fatalf("Discover = %+v, %v", got, err)
		}
	})
	t.Run("metadata down, STUN answers", func(t *testing.T) {
		uri, _ := metadataServer(t, 500, "")
		srv := newSTUNServer(t, &stunServer{mapped: public})
		got, err := Discover(t.Context(), Config{MetadataURI: uri, STUNServers: []string{srv.addr()}})
		if err != nil || got.Public != public || got.Private.IsValid() {
			t.Fatalf("Discover = %+v, %v", got, err)
		}
	})
	t.Run("nothing answers", func(t *testing.T) {
		uri, _ := metadataServer(t, 200, fargateTask("10.0.1.23"))
		dead := deadAddr(t)
		got, err := Discover(t.Context(), Config{MetadataURI: uri, STUNServers: []string{dead}, Attempts: 2, RTO: 10 * time.Millisecond})
		if !errors.Is(err, ErrNotFound) || !errors.Is(err, ErrNoAnswer) || got.Public.IsValid() || got.Private != private {
			t.Fatalf("Discover = %+v, %v", got, err)
		}
	})
	t.Run("timeout bounds it", func(t *testing.T) {
		start := time.Now()
		_, err := Discover(t.Context(), Config{STUNServers: []string{deadAddr(t), deadAddr(t)}, Attempts: 10, RTO: time.Second, Timeout: 100 * time.Millisecond})
		if !errors.Is(err, ErrNotFound) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Discover = %v", err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("took %v with a 100ms timeout", d)
		}
	})
}

func TestPrivateIPv4(t *testing.T) {
	uri, _ := metadataServer(t, 200, fargateTask("10.0.1.23", "10.0.1.24"))
	if got, err := PrivateIPv4(t.Context(), nil, uri); err != nil || got != netip.MustParseAddr("10.0.1.23") {
		t.Fatalf("PrivateIPv4 = %v, %v", got, err)
	}
}

func TestIsPublic(t *testing.T) {
	for s, want := range map[string]bool{
		"203.0.113.7": true, "52.1.2.3": true, "::ffff:52.1.2.3": true,
		"10.0.1.23": false, "172.16.0.1": false, "192.168.1.1": false, "100.64.0.1": false,
		"127.0.0.1": false, "169.254.170.2": false, "0.0.0.0": false, "2001:db8::1": false,
	} {
		if got := IsPublic(netip.MustParseAddr(s)); got != want {
			t.Errorf("IsPublic(%s) = %v", s, got)
		}
	}
}

// FuzzMappedIPv4 feeds arbitrary datagrams to the decoder of STUN
// answers, which come from the network.
func FuzzMappedIPv4(f *testing.F) {
	req := stun.MustBuild(stun.TransactionID, stun.BindingRequest)
	ok := stun.MustBuild(stun.NewTransactionIDSetter(req.TransactionID), stun.BindingSuccess,
		&stun.XORMappedAddress{IP: net.IPv4(203, 0, 113, 7), Port: 4000}, stun.Fingerprint)
	f.Add(ok.Raw)
	f.Add(ok.Raw[:20])
	f.Add([]byte("not stun"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ip, answered, err := mappedIPv4(b, req.TransactionID)
		if err == nil && answered && !ip.Is4() {
			t.Fatalf("mappedIPv4 = %v without an error", ip)
		}
	})
}
