// Package publiciptest runs, on 127.0.0.1, the servers package publicip
// asks, for the tests of the commands that use it: a STUN server and an
// ECS task metadata endpoint. Nothing here sends traffic off the host.
package publiciptest

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/pion/stun/v3"
)

// STUNServer starts a STUN server on 127.0.0.1 that answers every
// Binding request with mapped (IPv4) as the XOR-MAPPED-ADDRESS, and
// returns its host:port. It stops when the test ends.
func STUNServer(t testing.TB, mapped netip.Addr) string {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			req := &stun.Message{Raw: append([]byte(nil), buf[:n]...)}
			if req.Decode() != nil || req.Type != stun.BindingRequest {
				continue
			}
			res, err := stun.Build(stun.NewTransactionIDSetter(req.TransactionID), stun.BindingSuccess,
				&stun.XORMappedAddress{IP: net.IP(mapped.AsSlice()), Port: from.(*net.UDPAddr).Port}, stun.Fingerprint)
			if err != nil {
				t.Errorf("publiciptest: %v", err)
				continue
			}
			_, _ = conn.WriteTo(res.Raw, from)
		}
	}()
	t.Cleanup(func() {
		_ = conn.Close()
		<-done
	})
	return conn.LocalAddr().String()
}

// DeadSTUNServer returns a 127.0.0.1 UDP address that never answers. It
// is closed when the test ends.
func DeadSTUNServer(t testing.TB) string {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn.LocalAddr().String()
}

// MetadataServer starts an ECS task metadata endpoint v4 whose task has
// the IPv4 addresses ips, and returns its base URI, the value of
// ECS_CONTAINER_METADATA_URI_V4. It stops when the test ends.
func MetadataServer(t testing.TB, ips ...string) string {
	t.Helper()
	type network struct {
		NetworkMode   string
		IPv4Addresses []string
	}
	type container struct {
		Name     string
		Networks []network
	}
	body, err := json.Marshal(struct {
		LaunchType string
		Containers []container
	}{"FARGATE", []container{{"app", []network{{"awsvpc", ips}}}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v4/task-id/task" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/v4/task-id"
}
