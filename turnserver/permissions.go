package turnserver

import (
	"net"
	"net/netip"
)

// specialV4 lists the IPv4 ranges a relay never reaches unless
// allow-listed: the IANA IPv4 Special-Purpose Address Registry (RFC 6890
// and its updates), documentation and benchmarking ranges, multicast and
// the reserved block with the limited broadcast address. Go's net.IP
// predicates miss several of these (0.0.0.0/8, CGNAT, benchmarking), so the
// list is explicit.
var specialV4 = [...]netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "This network", RFC 791.
	netip.MustParsePrefix("10.0.0.0/8"),      // Private use, RFC 1918.
	netip.MustParsePrefix("100.64.0.0/10"),   // Shared address space (CGNAT), RFC 6598.
	netip.MustParsePrefix("127.0.0.0/8"),     // Loopback, RFC 1122.
	netip.MustParsePrefix("169.254.0.0/16"),  // Link-local, RFC 3927 (cloud metadata lives here).
	netip.MustParsePrefix("172.16.0.0/12"),   // Private use, RFC 1918.
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments, RFC 6890.
	netip.MustParsePrefix("192.0.2.0/24"),    // Documentation (TEST-NET-1), RFC 5737.
	netip.MustParsePrefix("192.31.196.0/24"), // AS112-v4, RFC 7535.
	netip.MustParsePrefix("192.52.193.0/24"), // AMT, RFC 7450.
	netip.MustParsePrefix("192.88.99.0/24"),  // Deprecated 6to4 relay anycast, RFC 7526.
	netip.MustParsePrefix("192.168.0.0/16"),  // Private use, RFC 1918.
	netip.MustParsePrefix("192.175.48.0/24"), // Direct delegation AS112 service, RFC 7534.
	netip.MustParsePrefix("198.18.0.0/15"),   // Benchmarking, RFC 2544.
	netip.MustParsePrefix("198.51.100.0/24"), // Documentation (TEST-NET-2), RFC 5737.
	netip.MustParsePrefix("203.0.113.0/24"),  // Documentation (TEST-NET-3), RFC 5737.
	netip.MustParsePrefix("224.0.0.0/4"),     // Multicast, RFC 5771.
	netip.MustParsePrefix("240.0.0.0/4"),     // Reserved and limited broadcast, RFC 1112 and RFC 919.
}

// specialV6 lists the IPv6 ranges a relay never reaches unless
// allow-listed: the IANA IPv6 Special-Purpose Address Registry (RFC 6890
// and its updates) and the non-global blocks. Everything outside global
// unicast 2000::/3 is refused as well, except the forms that embed an IPv4
// address, which are judged by that address (see isSpecial).
var specialV6 = [...]netip.Prefix{
	netip.MustParsePrefix("::/128"),         // Unspecified, RFC 4291.
	netip.MustParsePrefix("::1/128"),        // Loopback, RFC 4291.
	netip.MustParsePrefix("64:ff9b:1::/48"), // Local-use IPv4/IPv6 translation, RFC 8215.
	netip.MustParsePrefix("100::/64"),       // Discard-only, RFC 6666.
	netip.MustParsePrefix("2001::/23"),      // IETF protocol assignments, RFC 2928 (Teredo inside is judged first).
	netip.MustParsePrefix("2001:db8::/32"),  // Documentation, RFC 3849.
	netip.MustParsePrefix("3fff::/20"),      // Documentation, RFC 9637.
	netip.MustParsePrefix("5f00::/16"),      // SRv6 SIDs, RFC 9602.
	netip.MustParsePrefix("fc00::/7"),       // Unique local, RFC 4193.
	netip.MustParsePrefix("fe80::/10"),      // Link-local unicast, RFC 4291.
	netip.MustParsePrefix("fec0::/10"),      // Deprecated site-local, RFC 3879.
	netip.MustParsePrefix("ff00::/8"),       // Multicast, RFC 4291.
}

var (
	// globalUnicast is the only IPv6 block with addresses a relay reaches.
	globalUnicast = netip.MustParsePrefix("2000::/3")
	// nat64 is the well-known NAT64 prefix with an IPv4 address in its last
	// 32 bits, RFC 6052.
	nat64 = netip.MustParsePrefix("64:ff9b::/96")
	// sixToFour embeds an IPv4 address in bits 16 to 47, RFC 3056.
	sixToFour = netip.MustParsePrefix("2002::/16")
	// teredo embeds the server's IPv4 address in bits 32 to 63 and the
	// client's, inverted, in bits 96 to 127, RFC 4380.
	teredo = netip.MustParsePrefix("2001::/32")
	// v4Compatible is the deprecated IPv4-compatible form, RFC 4291.
	v4Compatible = netip.MustParsePrefix("::/96")
)

// IsSpecialPurpose reports whether ip is in a special-purpose range a relay
// must not reach: loopback, unspecified, private, link-local, CGNAT,
// multicast, broadcast, benchmarking, documentation and the other IANA
// special-purpose blocks, in IPv4 or IPv6 form. IPv4-mapped, NAT64, 6to4
// and Teredo addresses are judged by the IPv4 addresses they embed. An
// invalid address is special.
func IsSpecialPurpose(ip netip.Addr) bool {
	if !ip.IsValid() {
		return true
	}
	ip = ip.WithZone("").Unmap()
	if ip.Is4() {
		return inAny(ip, specialV4[:])
	}
	b := ip.As16()
	switch {
	case nat64.Contains(ip):
		return inAny(netip.AddrFrom4([4]byte(b[12:16])), specialV4[:])
	case v4Compatible.Contains(ip):
		return true
	case sixToFour.Contains(ip):
		return inAny(netip.AddrFrom4([4]byte(b[2:6])), specialV4[:])
	case teredo.Contains(ip):
		client := [4]byte{^b[12], ^b[13], ^b[14], ^b[15]}

		return inAny(netip.AddrFrom4([4]byte(b[4:8])), specialV4[:]) ||
			inAny(netip.AddrFrom4(client), specialV4[:])
	}

	return inAny(ip, specialV6[:]) || !globalUnicast.Contains(ip)
}

func inAny(ip netip.Addr, prefixes []netip.Prefix) bool {
	for _, p := range prefixes {
		if p.Contains(ip) {
			return true
		}
	}

	return false
}

// PeerPolicy decides which peer addresses an allocation may get a
// permission or channel for (RFC 8656 section 9): every address except the
// special-purpose ones, and those only when an allow-list prefix holds
// them. It is immutable and safe for concurrent use.
type PeerPolicy struct {
	allow []netip.Prefix
}

// NewPeerPolicy returns a policy that admits the special-purpose addresses
// inside allow (the local runner allow-lists 127.0.0.0/8 and ::1/128).
func NewPeerPolicy(allow []netip.Prefix) *PeerPolicy {
	p := &PeerPolicy{allow: make([]netip.Prefix, 0, len(allow))}
	for _, a := range allow {
		if a.IsValid() {
			p.allow = append(p.allow, a.Masked())
		}
	}

	return p
}

// Allowed reports whether a relay may reach ip. An IPv4-mapped address is
// the IPv4 address it maps (pion/turn hands IPv4 peers over in that form);
// the IPv4 address inside a NAT64, 6to4 or Teredo address is judged by the
// deny list alone, the allow-list matching only the address itself.
func (p *PeerPolicy) Allowed(ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	ip = ip.WithZone("").Unmap()
	for _, a := range p.allow {
		if a.Contains(ip) {
			return true
		}
	}

	return !IsSpecialPurpose(ip)
}

// permissionHandler is the pion/turn PermissionHandler of every listener:
// never nil, since pion's nil default relays anywhere.
func (s *Server) permissionHandler(client net.Addr, peer net.IP) bool {
	ip, ok := netip.AddrFromSlice(peer)
	if ok && s.policy.Allowed(ip) {
		return true
	}
	s.metrics.permissionDenials.Inc()
	s.log.Debug("turn permission denied", "client", client.String(), "peer", peer.String())

	return false
}
