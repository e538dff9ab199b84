package turnserver_test

import (
	"net/netip"
	"testing"

	"github.com/greenroom-live/greenroom/turnserver"
)

// These tests judge addresses only: no traffic goes to any of them.
func TestPeerPolicyDenyList(t *testing.T) {
	tests := []struct {
		ip      string
		allowed bool
	}{
		{"0.0.0.0", false},
		{"0.1.2.3", false},
		{"::", false},
		{"127.0.0.1", false},
		{"127.255.255.254", false},
		{"::1", false},
		{"::ffff:127.0.0.1", false},
		{"::ffff:10.1.2.3", false},
		{"::ffff:0.0.0.0", false},
		{"169.254.169.254", false},
		{"::ffff:169.254.169.254", false},
		{"100.64.0.1", false},
		{"100.127.255.255", false},
		{"64:ff9b::7f00:1", false},
		{"64:ff9b::a9fe:a9fe", false},
		{"64:ff9b::6440:1", false},
		{"64:ff9b:1::808:808", false},
		{"10.0.0.1", false},
		{"192.168.1.1", false},
		{"172.16.0.1", false},
		{"172.31.255.255", false},
		{"fe80::1", false},
		{"fe80::1%eth0", false},
		{"fc00::1", false},
		{"fd12:3456::1", false},
		{"fec0::1", false},
		{"224.0.0.1", false},
		{"239.255.255.250", false},
		{"ff02::1", false},
		{"255.255.255.255", false},
		{"240.0.0.1", false},
		{"198.18.0.1", false},
		{"198.19.255.255", false},
		{"192.0.0.8", false},
		{"192.0.2.1", false},
		{"198.51.100.7", false},
		{"203.0.113.9", false},
		{"192.88.99.1", false},
		{"2001:db8::1", false},
		{"3fff::1", false},
		{"2001:2::1", false},
		{"100::1", false},
		{"::7f00:1", false},
		{"::808:808", false},
		{"2002:7f00:1::1", false},
		{"2002:c0a8:101::1", false},
		{"2001:0:4136:e378:8000:63bf:80ff:fffe", false}, // Teredo whose client is 127.0.0.1.
		{"2001:0:a00:1:8000:63bf:f7f7:f7f7", false},     // Teredo whose server is 10.0.0.1.
		{"5f00::1", false},
		{"4000::1", false},
		// Public addresses.
		{"8.8.8.8", true},
		{"1.1.1.1", true},
		{"100.63.255.255", true},
		{"100.128.0.0", true},
		{"172.32.0.1", true},
		{"198.20.0.1", true},
		{"::ffff:8.8.8.8", true},
		{"64:ff9b::808:808", true},
		{"2002:808:808::1", true},
		{"2001:0:808:808:8000:63bf:f7f7:f7f7", true}, // Teredo: server 8.8.8.8, client 8.8.8.8.
		{"2001:4860:4860::8888", true},
		{"2606:4700:4700::1111", true},
	}
	policy := turnserver.NewPeerPolicy(nil)
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			ip := netip.MustParseAddr(tt.ip)
			if got := policy.Allowed(ip); got != tt.allowed {
				t.Errorf("Allowed(%s) = %v, want %v", tt.ip, got, tt.allowed)
			}
			if got := turnserver.IsSpecialPurpose(ip); got == tt.allowed {
				t.Errorf("IsSpecialPurpose(%s) = %v, want %v", tt.ip, got, !tt.allowed)
			}
		})
	}
	if policy.Allowed(netip.Addr{}) {
		t.Error("the zero address is allowed")
	}
}

func TestPeerPolicyAllowList(t *testing.T) {
	policy := turnserver.NewPeerPolicy([]netip.Prefix{
		netip.MustParsePrefix("127.0.0.0/8"),
		netip.MustParsePrefix("::1/128"),
	})
	tests := []struct {
		ip      string
		allowed bool
	}{
		{"127.0.0.1", true},
		{"127.1.2.3", true},
		{"::ffff:127.0.0.1", true}, // pion hands IPv4 peers over in this form.
		{"::1", true},
		{"8.8.8.8", true},
		{"10.0.0.1", false},
		{"169.254.169.254", false},
		{"0.0.0.0", false},
		{"::", false},
		{"64:ff9b::7f00:1", false}, // An embedded address is judged by the deny list alone.
		{"2002:7f00:1::1", false},
	}
	for _, tt := range tests {
		if got := policy.Allowed(netip.MustParseAddr(tt.ip)); got != tt.allowed {
			t.Errorf("Allowed(%s) = %v, want %v", tt.ip, got, tt.allowed)
		}
	}
}
