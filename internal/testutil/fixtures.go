package testutil

import "fmt"

// CR builds a Meridio resource in YAML; namespace "" and trench "" leave the namespace and
// the trench label out.
func CR(namespace, kind, name, trench, spec string) string {
	meta := "  name: " + name
	if namespace != "" {
		meta += "\n  namespace: " + namespace
	}
	if trench != "" {
		meta += fmt.Sprintf("\n  labels: {trench: %s}", trench)
	}
	return fmt.Sprintf("apiVersion: meridio.nordix.org/v1alpha1\nkind: %s\nmetadata:\n%s\nspec: %s\n", kind, meta, spec)
}

// TrenchSet is a small complete trench: the trench, a conduit, an attractor, a gateway, a vip,
// a stream and a flow, every name suffixed with the trench name. It renders 9 objects.
func TrenchSet(namespace, tr string) []string {
	return []string{
		CR(namespace, "Trench", tr, "", `{ip-family: dualstack}`),
		CR(namespace, "Conduit", "c-"+tr, tr, `{}`),
		CR(namespace, "Attractor", "a-"+tr, tr, fmt.Sprintf(`{composites: [c-%[1]s], gateways: [g-%[1]s], vips: [v-%[1]s], interface: {name: e, ipv4-prefix: 169.254.1.0/24, ipv6-prefix: "100::/64", nsm-vlan: {vlan-id: 10, base-interface: eth0}}}`, tr)),
		CR(namespace, "Gateway", "g-"+tr, tr, `{address: 1.2.3.4, bgp: {remote-asn: 1, local-asn: 2, hold-time: 30s}}`),
		CR(namespace, "Vip", "v-"+tr, tr, `{address: 20.0.0.1/32}`),
		CR(namespace, "Stream", "s-"+tr, tr, fmt.Sprintf(`{conduit: c-%s}`, tr)),
		CR(namespace, "Flow", "f-"+tr, tr, fmt.Sprintf(`{stream: s-%[1]s, vips: [v-%[1]s], protocols: [tcp], priority: 1, destination-ports: ["80"]}`, tr)),
	}
}
