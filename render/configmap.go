package render

import (
	"math"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	yaml "sigs.k8s.io/yaml/goyaml.v2"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
)

// ConfigMap data keys read by the Meridio workloads.
const (
	KeyTrench     = "trench"
	KeyConduits   = "conduits"
	KeyStreams    = "streams"
	KeyFlows      = "flows"
	KeyVips       = "vips"
	KeyAttractors = "attractors"
	KeyGateways   = "gateways"
)

// The types below mirror the Meridio configuration reader (pkg/configuration/reader): the field
// names, order and omitempty flags are its contract, since it decodes strictly.

type cfgTrench struct {
	Name string `yaml:"name"`
}

type cfgConduit struct {
	Name                string       `yaml:"name"`
	Trench              string       `yaml:"trench"`
	DestinationPortNats []cfgPortNat `yaml:"destination-port-nats,omitempty"`
}

type cfgPortNat struct {
	Port       uint16   `yaml:"port"`
	TargetPort uint16   `yaml:"target-port"`
	Vips       []string `yaml:"vips"`
	Protocol   string   `yaml:"protocol"`
}

type cfgStream struct {
	Name       string `yaml:"name"`
	Conduit    string `yaml:"conduit"`
	MaxTargets uint32 `yaml:"max-targets"`
}

type cfgFlow struct {
	Name                  string   `yaml:"name"`
	SourceSubnets         []string `yaml:"source-subnets"`
	DestinationPortRanges []string `yaml:"destination-port-ranges"`
	SourcePortRanges      []string `yaml:"source-port-ranges"`
	Protocols             []string `yaml:"protocols"`
	Vips                  []string `yaml:"vips"`
	Priority              int32    `yaml:"priority"`
	Stream                string   `yaml:"stream"`
	ByteMatches           []string `yaml:"byte-matches,omitempty"`
}

type cfgVip struct {
	Name    string `yaml:"name"`
	Address string `yaml:"address"`
	Trench  string `yaml:"trench"`
}

type cfgAttractor struct {
	Name     string   `yaml:"name"`
	Vips     []string `yaml:"vips"`
	Gateways []string `yaml:"gateways"`
	Trench   string   `yaml:"trench"`
}

type cfgGateway struct {
	Name       string      `yaml:"name"`
	Address    string      `yaml:"address"`
	RemoteASN  uint32      `yaml:"remote-asn,omitempty"`
	LocalASN   uint32      `yaml:"local-asn,omitempty"`
	RemotePort uint16      `yaml:"remote-port,omitempty"`
	LocalPort  uint16      `yaml:"local-port,omitempty"`
	IPFamily   string      `yaml:"ip-family"`
	BFD        bool        `yaml:"bfd"`
	Protocol   string      `yaml:"protocol"`
	HoldTime   uint        `yaml:"hold-time,omitempty"`
	MinTx      uint        `yaml:"min-tx,omitempty"`
	MinRx      uint        `yaml:"min-rx,omitempty"`
	Multiplier uint16      `yaml:"multiplier,omitempty"`
	Trench     string      `yaml:"trench"`
	BGPAuth    *cfgBgpAuth `yaml:"bgp-auth,omitempty"`
}

type cfgBgpAuth struct {
	KeyName   string `yaml:"key"`
	KeySource string `yaml:"source"`
}

type cfgItems[T any] struct {
	Items []T `yaml:"items"`
}

// configMap renders the trench configuration read by the NSP and the front-ends. Items are in
// name order (the snapshot is sorted), so the bytes only change when the configuration does.
func configMap(s *meridiov1.Snapshot, set *Settings) (*corev1.ConfigMap, error) {
	t := s.Trench.Name
	data := map[string]string{}
	var (
		vips       = cfgItems[cfgVip]{Items: []cfgVip{}}
		gateways   = cfgItems[cfgGateway]{Items: []cfgGateway{}}
		attractors = cfgItems[cfgAttractor]{Items: []cfgAttractor{}}
		conduits   = cfgItems[cfgConduit]{Items: []cfgConduit{}}
		streams    = cfgItems[cfgStream]{Items: []cfgStream{}}
		flows      = cfgItems[cfgFlow]{Items: []cfgFlow{}}
	)
	for _, v := range s.Vips {
		if v.Spec.Address != "" {
			vips.Items = append(vips.Items, cfgVip{Name: v.Name, Address: v.Spec.Address, Trench: t})
		}
	}
	for i := range s.Gateways {
		gateways.Items = append(gateways.Items, gatewayConfig(&s.Gateways[i], t))
	}
	for _, a := range s.Attractors {
		attractors.Items = append(attractors.Items, cfgAttractor{Name: a.Name, Vips: a.Spec.Vips, Gateways: a.Spec.Gateways, Trench: t})
	}
	for _, c := range s.Conduits {
		item := cfgConduit{Name: c.Name, Trench: t}
		for _, n := range c.Spec.DestinationPortNats {
			item.DestinationPortNats = append(item.DestinationPortNats, cfgPortNat{Port: n.Port, TargetPort: n.TargetPort, Vips: n.Vips, Protocol: string(n.Protocol)})
		}
		conduits.Items = append(conduits.Items, item)
	}
	for _, st := range s.Streams {
		if st.Spec.Conduit != "" {
			streams.Items = append(streams.Items, cfgStream{Name: st.Name, Conduit: st.Spec.Conduit, MaxTargets: st.Spec.MaxTargets})
		}
	}
	for _, f := range s.Flows {
		if f.Spec.Stream == "" {
			continue
		}
		protocols := make([]string, len(f.Spec.Protocols))
		for i, p := range f.Spec.Protocols {
			protocols[i] = string(p)
		}
		flows.Items = append(flows.Items, cfgFlow{
			Name:                  f.Name,
			SourceSubnets:         f.Spec.SourceSubnets,
			DestinationPortRanges: portRanges(f.Spec.DestinationPorts),
			SourcePortRanges:      portRanges(f.Spec.SourcePorts),
			Protocols:             protocols,
			Vips:                  f.Spec.Vips,
			Priority:              f.Spec.Priority,
			Stream:                f.Spec.Stream,
			ByteMatches:           f.Spec.ByteMatches,
		})
	}
	trenchYAML, err := yaml.Marshal(cfgTrench{Name: t})
	if err != nil {
		return nil, err
	}
	data[KeyTrench] = string(trenchYAML)
	w := &yamlWriter{}
	data[KeyVips] = writeItems(w, vips.Items, (*cfgVip).write)
	data[KeyGateways] = writeItems(w, gateways.Items, (*cfgGateway).write)
	data[KeyAttractors] = writeItems(w, attractors.Items, (*cfgAttractor).write)
	data[KeyConduits] = writeItems(w, conduits.Items, (*cfgConduit).write)
	data[KeyStreams] = writeItems(w, streams.Items, (*cfgStream).write)
	data[KeyFlows] = writeItems(w, flows.Items, (*cfgFlow).write)
	return &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: metav1.ObjectMeta{Name: set.name("meridio-configuration", t), Namespace: s.Trench.Namespace},
		Data:       data,
	}, nil
}

// portRanges writes "any" as the full range and keeps every other entry verbatim.
func portRanges(ports []string) []string {
	if ports == nil {
		return nil
	}
	out := make([]string, len(ports))
	for i, p := range ports {
		if p == "any" {
			p = "0-65535"
		}
		out[i] = p
	}
	return out
}

// gatewayConfig converts a Gateway as the reference does: hold time in whole seconds (rounded),
// BFD timers in milliseconds, and nothing of BGP for a static gateway.
func gatewayConfig(g *meridiov1.Gateway, trench string) cfgGateway {
	c := cfgGateway{
		Name:     g.Name,
		Address:  g.Spec.Address,
		IPFamily: meridiov1.IPFamilyOfAddress(g.Spec.Address),
		Protocol: g.Spec.Protocol,
		Trench:   trench,
	}
	bfd := g.Spec.Static.BFD
	if g.Spec.Protocol == meridiov1.ProtocolBGP {
		b := g.Spec.Bgp
		c.RemoteASN, c.LocalASN = deref(b.RemoteASN), deref(b.LocalASN)
		c.RemotePort, c.LocalPort = deref(b.RemotePort), deref(b.LocalPort)
		if d, err := time.ParseDuration(b.HoldTime); err == nil && d > 0 {
			c.HoldTime = uint(math.Round(d.Seconds()))
		}
		if b.Auth != nil {
			c.BGPAuth = &cfgBgpAuth{KeyName: b.Auth.KeyName, KeySource: b.Auth.KeySource}
		}
		bfd = b.BFD
	}
	if bfd.Switch != nil && *bfd.Switch {
		c.BFD = true
		c.MinTx, c.MinRx = milliseconds(bfd.MinTx), milliseconds(bfd.MinRx)
		c.Multiplier = deref(bfd.Multiplier)
	}
	return c
}

func milliseconds(s string) uint {
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0
	}
	return uint(d.Round(time.Millisecond).Milliseconds())
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
