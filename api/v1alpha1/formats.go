package v1alpha1

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// byteMatchPattern is the byte-match syntax accepted by the Meridio configuration reader.
var byteMatchPattern = regexp.MustCompile(`^(sctp|tcp|udp)\[[0-9]+ *: *[124]\]( *& *0x[0-9a-f]+)? *= *([0-9]+|0x[0-9a-f]+)$`)

// portRange is an inclusive range of ports.
type portRange struct{ from, to uint64 }

func (r portRange) overlaps(o portRange) bool { return r.from <= o.to && o.from <= r.to }

// The words of the IP mistakes. The CRDs' CEL rules (the markers on VipSpec, InterfaceSpec and
// GatewaySpec) give the same words, so that the API server, the webhooks and offline render
// describe a mistake alike.
const (
	prefixExample     = "as in 10.0.0.0/24 or 2001:db8::/64"
	notAPrefix        = "not a prefix: write the address and the prefix length, " + prefixExample
	notPrefixAddress  = "not an IP address before the /: write an IPv4 or IPv6 address, " + prefixExample
	notPrefixLength   = "the prefix length after the / is not a number: write 0-32 for IPv4, 0-128 for IPv6"
	lengthOutOfRange  = "prefix length out of range: 0-32 for an IPv4 address, 0-128 for IPv6"
	hostBitsSet       = "host bits set: write the network address of the prefix, as in 10.0.0.0/24 for 10.0.0.1/24"
	addressExample    = "as in 192.0.2.1 or 2001:db8::1"
	addressWithLength = "a gateway address has no prefix length: write the address alone, " + addressExample
	notAnAddress      = "not an IP address: write an IPv4 or IPv6 address, " + addressExample
)

// prefixBits matches a prefix length as the CEL rules do: one to three digits.
var prefixBits = regexp.MustCompile(`^[0-9]{1,3}$`)

// parsePrefix parses a prefix whose address part is its network address; its error says which
// of the mistakes s makes.
func parsePrefix(s string) (*net.IPNet, error) {
	addr, bits, ok := strings.Cut(s, "/")
	if !ok {
		return nil, errors.New(notAPrefix)
	}
	a, err := netip.ParseAddr(addr)
	if err != nil || a.Zone() != "" {
		return nil, errors.New(notPrefixAddress)
	}
	if !prefixBits.MatchString(bits) {
		return nil, errors.New(notPrefixLength)
	}
	if n, _ := strconv.Atoi(bits); n > a.BitLen() {
		return nil, errors.New(lengthOutOfRange)
	}
	// netip is as strict as the CEL rules' isCIDR (no leading zeros, no zone).
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return nil, errors.New(notAPrefix)
	}
	if p.Masked() != p {
		return nil, errors.New(hostBitsSet)
	}
	_, ipNet, err := net.ParseCIDR(s)
	if err != nil {
		return nil, errors.New(notAPrefix)
	}
	return ipNet, nil
}

// addressMistake says what is wrong with s as an IP address without prefix length ("" when
// nothing is).
func addressMistake(s string) string {
	switch {
	case strings.Contains(s, "/"):
		return addressWithLength
	case net.ParseIP(s) == nil:
		return notAnAddress
	}
	return ""
}

// validatePrefix checks one prefix.
func validatePrefix(s string, path *field.Path) field.ErrorList {
	if _, err := parsePrefix(s); err != nil {
		return field.ErrorList{field.Invalid(path, s, err.Error())}
	}
	return nil
}

// parsePortSpec parses "N", "N-M" or "any".
func parsePortSpec(s string) (portRange, error) {
	const msg = `must be a port 0-65535, a range "N-M" with N <= M, or "any"`
	if s == "any" {
		return portRange{0, 65535}, nil
	}
	from, to, isRange := strings.Cut(s, "-")
	lo, err := strconv.ParseUint(from, 10, 16)
	if err != nil {
		return portRange{}, fmt.Errorf("%s", msg)
	}
	if !isRange {
		return portRange{lo, lo}, nil
	}
	hi, err := strconv.ParseUint(to, 10, 16)
	if err != nil || hi < lo {
		return portRange{}, fmt.Errorf("%s", msg)
	}
	return portRange{lo, hi}, nil
}

// validatePortList checks that every entry is a port spec and that no two entries overlap.
func validatePortList(ports []string, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	ranges := make([]portRange, len(ports))
	valid := make([]bool, len(ports))
	for i, p := range ports {
		r, err := parsePortSpec(p)
		if err != nil {
			errs = append(errs, field.Invalid(path.Index(i), p, err.Error()))
			continue
		}
		ranges[i], valid[i] = r, true
		for j := 0; j < i; j++ {
			if valid[j] && ranges[j].overlaps(r) {
				errs = append(errs, field.Invalid(path.Index(i), p, fmt.Sprintf("overlaps %s (%q)", path.Index(j), ports[j])))
				break
			}
		}
	}
	return errs
}

// validateSubnetList checks that every entry is a prefix and that none equals or contains another.
func validateSubnetList(subnets []string, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	nets := make([]*net.IPNet, len(subnets))
	for i, s := range subnets {
		n, err := parsePrefix(s)
		if err != nil {
			errs = append(errs, field.Invalid(path.Index(i), s, err.Error()))
			continue
		}
		nets[i] = n
		for j := 0; j < i; j++ {
			if nets[j] != nil && (nets[j].Contains(n.IP) || n.Contains(nets[j].IP)) {
				errs = append(errs, field.Invalid(path.Index(i), s, fmt.Sprintf("overlaps %s (%q)", path.Index(j), subnets[j])))
				break
			}
		}
	}
	return errs
}

// validateDuration checks a Go duration string and returns its value.
func validateDuration(s string, path *field.Path) (time.Duration, field.ErrorList) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, field.ErrorList{field.Invalid(path, s, `must be a duration such as "300ms", "90s" or "1m"`)}
	}
	if d < 0 {
		return 0, field.ErrorList{field.Invalid(path, s, "must not be negative")}
	}
	return d, nil
}

// validateByteMatches checks the byte-match syntax of every entry.
func validateByteMatches(matches []string, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, m := range matches {
		if !byteMatchPattern.MatchString(m) {
			errs = append(errs, field.Invalid(path.Index(i), m, `must be a byte match such as "tcp[2:2] = 80" or "udp[4:2] & 0xff00 = 0x1000"`))
		}
	}
	return errs
}

// ipFamilyOf returns ipv4 or ipv6 for an address or prefix, or "" if it is neither.
func ipFamilyOf(s string) string {
	ip := net.ParseIP(s)
	if ip == nil {
		var err error
		if ip, _, err = net.ParseCIDR(s); err != nil {
			return ""
		}
	}
	if ip.To4() != nil {
		return IPv4
	}
	return IPv6
}

// IPFamilyOfAddress returns ipv4 for an IPv4 (or IPv4-mapped) address and ipv6 otherwise, as the
// Meridio configuration expects for gateways.
func IPFamilyOfAddress(address string) string {
	if ip := net.ParseIP(address); ip != nil && ip.To4() != nil {
		return IPv4
	}
	return IPv6
}

// familyFits tells whether an address family can be used in a trench of the given family.
func familyFits(trenchFamily, family string) bool {
	return family == "" || trenchFamily == Dualstack || trenchFamily == "" || trenchFamily == family
}
