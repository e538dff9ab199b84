package publicip

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/pion/stun/v3"
)

// maxSTUNMessage bounds a STUN answer read; Binding answers are far
// smaller.
const maxSTUNMessage = 1500

// STUN asks the STUN server at server (host:port; a host name is
// resolved to IPv4) for the address it sees this host's requests come
// from, with a Binding request (RFC 8489) over UDP from an ephemeral
// port. Behind a one-to-one NAT, such as a Fargate task's public IP, that
// address is the public IP. A request is sent up to attempts times; the
// wait for an answer starts at rto and doubles at each retransmission
// (RFC 8489 section 6.2.1). It returns ErrNoAnswer when no answer came,
// ErrBadAnswer when the answer held no IPv4 address, or ctx's error.
func STUN(ctx context.Context, server string, attempts int, rto time.Duration) (netip.Addr, error) {
	if attempts <= 0 {
		attempts = DefaultAttempts
	}
	if rto <= 0 {
		rto = DefaultRTO
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp4", server)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("publicip: stun %s: %w", server, err)
	}
	defer conn.Close()
	// A cancelled ctx ends the wait at once.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()

	req, err := stun.Build(stun.TransactionID, stun.BindingRequest, stun.Fingerprint)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("publicip: stun %s: %w", server, err)
	}
	buf := make([]byte, maxSTUNMessage)
	wait := rto
	for range attempts {
		if err := ctx.Err(); err != nil {
			return netip.Addr{}, fmt.Errorf("publicip: stun %s: %w", server, err)
		}
		if _, err := conn.Write(req.Raw); err != nil {
			return netip.Addr{}, fmt.Errorf("publicip: stun %s: %w", server, err)
		}
		if err := conn.SetReadDeadline(time.Now().Add(wait)); err != nil {
			return netip.Addr{}, fmt.Errorf("publicip: stun %s: %w", server, err)
		}
		wait *= 2
		for {
			n, err := conn.Read(buf)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				break // retransmit
			}
			if err != nil {
				if ctx.Err() != nil {
					err = ctx.Err()
				}
				return netip.Addr{}, fmt.Errorf("publicip: stun %s: %w", server, err)
			}
			ip, ok, err := mappedIPv4(buf[:n], req.TransactionID)
			if err != nil {
				return netip.Addr{}, fmt.Errorf("publicip: stun %s: %w", server, err)
			}
			if ok {
				return ip, nil
			}
			// Not an answer to this request: keep waiting.
		}
	}
	if err := ctx.Err(); err != nil {
		return netip.Addr{}, fmt.Errorf("publicip: stun %s: %w", server, err)
	}
	return netip.Addr{}, fmt.Errorf("%w from %s after %d requests", ErrNoAnswer, server, attempts)
}

// mappedIPv4 decodes b as the answer to the Binding request with id: ok
// is false when b is not a STUN message for that transaction (to be
// ignored); err is ErrBadAnswer for an answer without a usable address.
func mappedIPv4(b []byte, id [stun.TransactionIDSize]byte) (ip netip.Addr, ok bool, err error) {
	if !stun.IsMessage(b) {
		return netip.Addr{}, false, nil
	}
	m := &stun.Message{Raw: append([]byte(nil), b...)}
	if err := m.Decode(); err != nil || m.TransactionID != id || m.Type.Method != stun.MethodBinding {
		return netip.Addr{}, false, nil
	}
	if m.Type.Class != stun.ClassSuccessResponse {
		var code stun.ErrorCodeAttribute
		if code.GetFrom(m) == nil {
			return netip.Addr{}, true, fmt.Errorf("%w: error %d %s", ErrBadAnswer, code.Code, code.Reason)
		}
		return netip.Addr{}, true, fmt.Errorf("%w: %s", ErrBadAnswer, m.Type)
	}
	if m.Contains(stun.AttrFingerprint) {
		if err := stun.Fingerprint.Check(m); err != nil {
			return netip.Addr{}, false, nil
		}
	}
	var raw net.IP
	var xor stun.XORMappedAddress
	if err := xor.GetFrom(m); err == nil {
		raw = xor.IP
	} else {
		// RFC 3489 servers answer with MAPPED-ADDRESS only.
		var mapped stun.MappedAddress
		if err := mapped.GetFrom(m); err != nil {
			return netip.Addr{}, true, ErrBadAnswer
		}
		raw = mapped.IP
	}
	a, okAddr := netip.AddrFromSlice(raw)
	if a = a.Unmap(); !okAddr || !a.Is4() || a.IsUnspecified() {
		return netip.Addr{}, true, fmt.Errorf("%w: %s", ErrBadAnswer, raw)
	}
	return a, true, nil
}
