package fetch

import (
	"fmt"
	"net/netip"
	"syscall"
)

// refusePrivate is a net.Dialer.Control hook. It runs after name resolution,
// for every address the dialer tries, so it covers DNS rebinding, literal IPs
// in URLs and every redirect hop alike: nothing reaches a non-public address.
func refusePrivate(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		// Fail closed: an address we cannot read is not one we can vouch for.
		return fmt.Errorf("%w: %s (%s, unparsable)", ErrPrivateAddress, address, network)
	}
	if !isPublic(ap.Addr()) {
		return fmt.Errorf("%w: %s", ErrPrivateAddress, address)
	}
	return nil
}

// isPublic reports whether a is an address a feed may legitimately live at:
// a global unicast address outside every range of IANA's IPv4 and IPv6
// Special-Purpose Address Registries that is not globally reachable (and a
// few that are but where no feed lives). IPv6 must be in 2000::/3, the
// global unicast space: the rest of it is loopback, unspecified,
// IPv4-compatible (::/96) and IPv4-translated (::ffff:0:0:0/96) forms,
// local-use NAT64 (64:ff9b:1::/48), discard-only, unique local,
// link-local, site-local (fec0::/10), multicast or unassigned.
// IPv4-mapped, NAT64 (64:ff9b::/96) and 6to4 (2002::/16) addresses are
// judged by the IPv4 address they carry. A scoped address (with a zone) is
// never public.
func isPublic(a netip.Addr) bool {
	if !a.IsValid() || a.Zone() != "" {
		return false
	}
	a = a.Unmap()
	if !a.IsGlobalUnicast() {
		return false // unspecified, loopback, link-local, multicast
	}
	if a.Is4() {
		return !inAny(nonPublic4, a)
	}
	for _, e := range carriesIPv4 {
		if e.prefix.Contains(a) {
			b := a.As16()
			return isPublic(netip.AddrFrom4([4]byte(b[e.at : e.at+4])))
		}
	}
	return globalUnicast6.Contains(a) && !inAny(nonPublic6, a)
}

// nonPublic4 are the IPv4 ranges of the registry that are not globally
// reachable, with what else no feed lives at: all of 192.0.0.0/24 (its two
// anycast /32s included), the deprecated 6to4 relay anycast, multicast and
// the reserved 240.0.0.0/4 (with the limited broadcast address).
var nonPublic4 = prefixes(
	"0.0.0.0/8",       // "this network" (RFC 791)
	"10.0.0.0/8",      // private (RFC 1918)
	"100.64.0.0/10",   // shared address space (RFC 6598)
	"127.0.0.0/8",     // loopback
	"169.254.0.0/16",  // link-local (cloud metadata)
	"172.16.0.0/12",   // private
	"192.0.0.0/24",    // IETF protocol assignments (RFC 6890)
	"192.0.2.0/24",    // documentation, TEST-NET-1 (RFC 5737)
	"192.88.99.0/24",  // 6to4 relay anycast, deprecated (RFC 7526)
	"192.168.0.0/16",  // private
	"198.18.0.0/15",   // benchmarking (RFC 2544)
	"198.51.100.0/24", // documentation, TEST-NET-2
	"203.0.113.0/24",  // documentation, TEST-NET-3
	"224.0.0.0/4",     // multicast
	"240.0.0.0/4",     // reserved (RFC 1112), 255.255.255.255 included
)

// globalUnicast6 is the IPv6 global unicast space (RFC 4291 §2.4).
var globalUnicast6 = netip.MustParsePrefix("2000::/3")

// nonPublic6 are the registry's ranges inside 2000::/3 that hold no feed:
// all of 2001::/23 (Teredo, benchmarking, ORCHID, AMT and AS112 included)
// and the documentation prefixes.
var nonPublic6 = prefixes(
	"2001::/23",     // IETF protocol assignments (RFC 2928)
	"2001:db8::/32", // documentation (RFC 3849)
	"3fff::/20",     // documentation (RFC 9637)
)

// carriesIPv4 are the IPv6 forms judged by the IPv4 address inside them,
// which starts at byte at.
var carriesIPv4 = []struct {
	prefix netip.Prefix
	at     int
}{
	{netip.MustParsePrefix("64:ff9b::/96"), 12}, // NAT64, well-known prefix (RFC 6052)
	{netip.MustParsePrefix("2002::/16"), 2},     // 6to4 (RFC 3056)
}

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

func inAny(ps []netip.Prefix, a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
