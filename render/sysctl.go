package render

import (
	"strings"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
)

// Kernel settings the front-ends and proxies need, per IP family (SPEC §2.5).
var (
	sysctlV4 = []string{
		"sysctl -w net.ipv4.conf.all.forwarding=1",
		"sysctl -w net.ipv4.fib_multipath_hash_policy=1",
		"sysctl -w net.ipv4.conf.all.rp_filter=0",
		"sysctl -w net.ipv4.conf.default.rp_filter=0",
	}
	sysctlV6  = []string{"sysctl -w net.ipv6.conf.all.forwarding=1", "sysctl -w net.ipv6.fib_multipath_hash_policy=1"}
	sysctlDAD = []string{"sysctl -w net.ipv6.conf.all.accept_dad=0"}
)

// sysctlScript joins the commands of an IP family; proxies also turn IPv6 duplicate address
// detection off.
func sysctlScript(family string, proxy bool) string {
	var cmds []string
	if family != meridiov1.IPv6 {
		cmds = append(cmds, sysctlV4...)
	}
	if family != meridiov1.IPv4 {
		cmds = append(cmds, sysctlV6...)
		if proxy {
			cmds = append(cmds, sysctlDAD...)
		}
	}
	return strings.Join(cmds, " ; ")
}
