// Package fuzzinput turns fuzzers' values into Meridio resources that admission accepts, for
// the fuzz targets of the renderer and of the rendered objects' acceptance by the API server.
package fuzzinput

import (
	"fmt"
	"strings"
	"testing"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/internal/offline"
	"github.com/meridio-operator/meridio-operator/render"
)

// Input is a fuzzer's values for one trench: names, IP family, addresses, ports (comma-separated),
// a source subnet, a byte match, the operator's name prefix and a number of flows.
type Input struct {
	Trench, Family, Attractor, Conduit, Vip, Ports, Subnet, Match, Prefix string
	Flows                                                                 uint8
}

// Admitted builds the input's trench as offline render reads it, with the settings to render it
// with (the name prefix is a fuzzed value too); ok is false when admission refuses it.
func (in Input) Admitted() (*meridiov1.Snapshot, render.Settings, bool) {
	trench, family, attractor, conduit, vip, ports, subnet, match, prefix, flows := in.Trench, in.Family, in.Attractor, in.Conduit, in.Vip, in.Ports, in.Subnet, in.Match, in.Prefix, in.Flows
	q := func(s string) string { return fmt.Sprintf("%q", s) }
	list := func(s string) string {
		var out []string
		for _, p := range strings.Split(s, ",") {
			out = append(out, q(p))
		}
		return "[" + strings.Join(out, ", ") + "]"
	}
	docs := []string{
		fmt.Sprintf("kind: Trench\nmetadata: {name: %s}\nspec: {ip-family: %s}", q(trench), q(family)),
		fmt.Sprintf("kind: Conduit\nmetadata: {name: %s, labels: {trench: %s}}\nspec: {}", q(conduit), q(trench)),
		fmt.Sprintf("kind: Vip\nmetadata: {name: v, labels: {trench: %s}}\nspec: {address: %s}", q(trench), q(vip)),
		fmt.Sprintf("kind: Attractor\nmetadata: {name: %s, labels: {trench: %s}}\nspec: {composites: [%s], vips: [v], interface: {name: e, ipv4-prefix: 169.254.1.0/24, ipv6-prefix: \"100::/64\", nsm-vlan: {vlan-id: 10, base-interface: eth0}}}",
			q(attractor), q(trench), q(conduit)),
		fmt.Sprintf("kind: Stream\nmetadata: {name: s, labels: {trench: %s}}\nspec: {conduit: %s}", q(trench), q(conduit)),
	}
	for i := range int(flows % 20) {
		m := ""
		if match != "" {
			m = ", byte-matches: " + list(match)
		}
		docs = append(docs, fmt.Sprintf("kind: Flow\nmetadata: {name: f%d, labels: {trench: %s}}\nspec: {stream: s, vips: [v], protocols: [tcp], priority: %d, destination-ports: %s, source-subnets: [%s]%s}",
			i, q(trench), i, list(ports), q(subnet), m))
	}
	for i := range docs {
		docs[i] = "apiVersion: meridio.nordix.org/v1alpha1\n" + docs[i] + "\n"
	}
	res, errs := offline.Decode("fuzz.yaml", strings.NewReader(strings.Join(docs, "---\n")))
	if len(errs) > 0 {
		return nil, render.Settings{}, false
	}
	set := render.DefaultSettings()
	set.NamePrefix = prefix
	snaps, errs := offline.Snapshots(res, offline.DefaultNamespace)
	if len(errs) > 0 || len(offline.NameErrors(res, set)) > 0 || len(snaps) != 1 {
		return nil, render.Settings{}, false
	}
	return snaps[0], set, true
}

// Seeds are the first inputs of the fuzz targets: the first two are trenches admission accepts,
// so that fuzzing starts from inputs that reach the render; the third is refused.
func Seeds() []Input {
	return []Input{
		{"t", "ipv4", "a", "c", "20.0.0.1/32", "80,8080-8090", "10.0.0.0/8", "tcp[2:2] = 80", "", 3},
		{"trench-b", "dualstack", "attr", "lb", "2001:db8::/64", "any", "::/0", "", "x-", 1},
		{"a.b", "ipv6", "FE_blue", "c", "20.0.0.1/24", "0-65535", "1.2.3.4/32", "udp[0:1] & 0x0f = 1", "p", 200},
	}
}

// Fuzz runs a fuzz target over the admitted trenches of the fuzzer's values, starting from
// Seeds: check gets each one that admission accepts, with its settings.
func Fuzz(f *testing.F, check func(t *testing.T, s *meridiov1.Snapshot, set render.Settings)) {
	for _, s := range Seeds() {
		f.Add(s.Trench, s.Family, s.Attractor, s.Conduit, s.Vip, s.Ports, s.Subnet, s.Match, s.Prefix, s.Flows)
	}
	f.Fuzz(func(t *testing.T, trench, family, attractor, conduit, vip, ports, subnet, match, prefix string, flows uint8) {
		in := Input{Trench: trench, Family: family, Attractor: attractor, Conduit: conduit, Vip: vip, Ports: ports,
			Subnet: subnet, Match: match, Prefix: prefix, Flows: flows}
		if s, set, ok := in.Admitted(); ok {
			check(t, s, set)
		}
	})
}
