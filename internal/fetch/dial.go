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
// not loopback, private (RFC 1918, fc00::/7), link-local, multicast,
// unspecified, nor one of the IPv4 ranges that are never public (0/8,
// 100.64/10 shared address space, 192.0.0/24, 198.18/15 benchmarking,
// 240/4 reserved and broadcast). IPv4-mapped, NAT64 (64:ff9b::/96) and 6to4
// (2002::/16) addresses are judged by the IPv4 address they carry.
func isPublic(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsUnspecified() ||
		a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() {
		return false
	}
	if a.Is4() {
		b := a.As4()
		switch {
		case b[0] == 0, // "this network"
			b[0] == 100 && b[1]&0xc0 == 64,        // 100.64.0.0/10
			b[0] == 192 && b[1] == 0 && b[2] == 0, // 192.0.0.0/24
			b[0] == 198 && b[1]&0xfe == 18,        // 198.18.0.0/15
			b[0] >= 240:                           // 240.0.0.0/4, broadcast
			return false
		}
		return true
	}
	b := a.As16()
	switch {
	case b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && isZero(b[4:12]): // 64:ff9b::/96
		return isPublic(netip.AddrFrom4([4]byte(b[12:16])))
	case b[0] == 0x20 && b[1] == 0x02: // 2002::/16
		return isPublic(netip.AddrFrom4([4]byte(b[2:6])))
	}
	return true
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
