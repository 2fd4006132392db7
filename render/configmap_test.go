package render_test

import (
	"math"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	yaml "sigs.k8s.io/yaml/goyaml.v2"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/render"
)

// The reader* types are written from SPEC §3 (Meridio's pkg/configuration/reader), apart from
// the render package, so that a change of the rendered format fails here.
type readerTrench struct {
	Name string `yaml:"name"`
}
type readerConduit struct {
	Name                string `yaml:"name"`
	Trench              string `yaml:"trench"`
	DestinationPortNats []struct {
		Port       uint16   `yaml:"port"`
		TargetPort uint16   `yaml:"target-port"`
		Vips       []string `yaml:"vips"`
		Protocol   string   `yaml:"protocol"`
	} `yaml:"destination-port-nats,omitempty"`
}
type readerStream struct {
	Name       string `yaml:"name"`
	Conduit    string `yaml:"conduit"`
	MaxTargets uint32 `yaml:"max-targets"`
}
type readerFlow struct {
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
type readerVip struct {
	Name    string `yaml:"name"`
	Address string `yaml:"address"`
	Trench  string `yaml:"trench"`
}
type readerAttractor struct {
	Name     string   `yaml:"name"`
	Vips     []string `yaml:"vips"`
	Gateways []string `yaml:"gateways"`
	Trench   string   `yaml:"trench"`
}
type readerGateway struct {
	Name       string `yaml:"name"`
	Address    string `yaml:"address"`
	RemoteASN  uint32 `yaml:"remote-asn,omitempty"`
	LocalASN   uint32 `yaml:"local-asn,omitempty"`
	RemotePort uint16 `yaml:"remote-port,omitempty"`
	LocalPort  uint16 `yaml:"local-port,omitempty"`
	IPFamily   string `yaml:"ip-family"`
	BFD        bool   `yaml:"bfd"`
	Protocol   string `yaml:"protocol"`
	HoldTime   uint   `yaml:"hold-time,omitempty"`
	MinTx      uint   `yaml:"min-tx,omitempty"`
	MinRx      uint   `yaml:"min-rx,omitempty"`
	Multiplier uint16 `yaml:"multiplier,omitempty"`
	Trench     string `yaml:"trench"`
	BGPAuth    *struct {
		KeyName   string `yaml:"key"`
		KeySource string `yaml:"source"`
	} `yaml:"bgp-auth,omitempty"`
}

func decodeItems[T any](t *testing.T, cm *corev1.ConfigMap, key string) []T {
	t.Helper()
	var l struct {
		Items []T `yaml:"items"`
	}
	require.NoError(t, yaml.UnmarshalStrict([]byte(cm.Data[key]), &l), key)
	return l.Items
}

func sortedNames[T any](items []T, name func(T) string) []string {
	var out []string
	for _, i := range items {
		out = append(out, name(i))
	}
	return out
}

// Test_configMapReadsBack decodes the ConfigMap of every example strictly, as Meridio does, and
// checks each item field by field against the resources it came from.
func Test_configMapReadsBack(t *testing.T) {
	for _, ex := range examples(t) {
		for _, s := range loadExample(t, ex) {
			t.Run(ex+"/"+s.Trench.Name, func(t *testing.T) { checkConfigMap(t, s) })
		}
	}
}

func checkConfigMap(t *testing.T, s *meridiov1.Snapshot) {
	res, err := render.Render(s, render.DefaultSettings())
	require.NoError(t, err)
	cm := byName(res)["ConfigMap/meridio-configuration-"+s.Trench.Name].(*corev1.ConfigMap)
	require.Len(t, cm.Data, 7)
	T := s.Trench.Name

	var trench readerTrench
	require.NoError(t, yaml.UnmarshalStrict([]byte(cm.Data["trench"]), &trench))
	assert.Equal(t, T, trench.Name)

	vips := decodeItems[readerVip](t, cm, "vips")
	var wantVips []readerVip
	for _, v := range s.Vips {
		if v.Spec.Address != "" {
			wantVips = append(wantVips, readerVip{v.Name, v.Spec.Address, T})
		}
	}
	assert.Equal(t, wantVips, vips)

	atts := decodeItems[readerAttractor](t, cm, "attractors")
	require.Len(t, atts, len(s.Attractors))
	for i, a := range s.Attractors {
		assert.Equal(t, readerAttractor{a.Name, a.Spec.Vips, a.Spec.Gateways, T}, atts[i])
	}

	conduits := decodeItems[readerConduit](t, cm, "conduits")
	require.Len(t, conduits, len(s.Conduits))
	for i, c := range s.Conduits {
		assert.Equal(t, c.Name, conduits[i].Name)
		assert.Equal(t, T, conduits[i].Trench)
		require.Len(t, conduits[i].DestinationPortNats, len(c.Spec.DestinationPortNats))
		for k, n := range c.Spec.DestinationPortNats {
			got := conduits[i].DestinationPortNats[k]
			assert.Equal(t, []any{n.Port, n.TargetPort, n.Vips, string(n.Protocol)}, []any{got.Port, got.TargetPort, got.Vips, got.Protocol})
		}
	}

	streams := decodeItems[readerStream](t, cm, "streams")
	var wantStreams []readerStream
	for _, st := range s.Streams {
		if st.Spec.Conduit != "" {
			wantStreams = append(wantStreams, readerStream{st.Name, st.Spec.Conduit, st.Spec.MaxTargets})
		}
	}
	assert.Equal(t, wantStreams, streams)

	flows := decodeItems[readerFlow](t, cm, "flows")
	var wantFlows []string
	for _, f := range s.Flows {
		if f.Spec.Stream != "" {
			wantFlows = append(wantFlows, f.Name)
		}
	}
	assert.Equal(t, wantFlows, sortedNames(flows, func(f readerFlow) string { return f.Name }))
	for _, got := range flows {
		var f meridiov1.Flow
		for _, c := range s.Flows {
			if c.Name == got.Name {
				f = c
			}
		}
		assert.Equal(t, nonNil(f.Spec.SourceSubnets), got.SourceSubnets)
		assert.Equal(t, anyToRange(f.Spec.DestinationPorts), got.DestinationPortRanges)
		assert.Equal(t, anyToRange(f.Spec.SourcePorts), got.SourcePortRanges)
		assert.Equal(t, f.Spec.Vips, got.Vips)
		assert.Equal(t, f.Spec.Priority, got.Priority)
		assert.Equal(t, f.Spec.Stream, got.Stream)
		assert.Equal(t, f.Spec.ByteMatches, got.ByteMatches)
		require.Len(t, got.Protocols, len(f.Spec.Protocols))
		for i, p := range f.Spec.Protocols {
			assert.Equal(t, string(p), got.Protocols[i])
		}
	}

	gws := decodeItems[readerGateway](t, cm, "gateways")
	require.Len(t, gws, len(s.Gateways))
	for i, g := range s.Gateways {
		assert.Equal(t, expectGateway(g, T), gws[i], g.Name)
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func anyToRange(ports []string) []string {
	out := []string{}
	for _, p := range ports {
		if p == "any" {
			p = "0-65535"
		}
		out = append(out, p)
	}
	return out
}

// expectGateway applies the conversions of SPEC §3.2.
func expectGateway(g meridiov1.Gateway, trench string) readerGateway {
	w := readerGateway{Name: g.Name, Address: g.Spec.Address, Protocol: g.Spec.Protocol, Trench: trench, IPFamily: "ipv6"}
	if ip := net.ParseIP(g.Spec.Address); ip.To4() != nil {
		w.IPFamily = "ipv4"
	}
	bfd := g.Spec.Static.BFD
	if g.Spec.Protocol == "bgp" {
		b := g.Spec.Bgp
		w.RemoteASN, w.LocalASN, w.RemotePort, w.LocalPort = *b.RemoteASN, *b.LocalASN, *b.RemotePort, *b.LocalPort
		d, _ := time.ParseDuration(b.HoldTime)
		w.HoldTime = uint(math.Round(d.Seconds()))
		if b.Auth != nil {
			w.BGPAuth = &struct {
				KeyName   string `yaml:"key"`
				KeySource string `yaml:"source"`
			}{b.Auth.KeyName, b.Auth.KeySource}
		}
		bfd = b.BFD
	}
	if bfd.Switch != nil && *bfd.Switch {
		w.BFD = true
		tx, _ := time.ParseDuration(bfd.MinTx)
		rx, _ := time.ParseDuration(bfd.MinRx)
		w.MinTx, w.MinRx, w.Multiplier = uint(tx.Milliseconds()), uint(rx.Milliseconds()), *bfd.Multiplier
	}
	return w
}

// Test_gatewayConversions checks the rounding rules of SPEC §3.2 on exact values.
func Test_gatewayConversions(t *testing.T) {
	for _, tc := range []struct {
		hold string
		want uint
	}{{"24s", 24}, {"4m", 240}, {"240s", 240}, {"1500ms", 2}, {"3s", 3}, {"2499ms", 2}} {
		s := loadExample(t, "trench-a.yaml")[0]
		s.Gateways[0].Spec.Bgp.HoldTime = tc.hold
		s.Gateways[0].Spec.Bgp.BFD = meridiov1.BfdSpec{Switch: new(true), MinTx: "1s", MinRx: "1500us", Multiplier: new(uint16(7))}
		res, err := render.Render(s, render.DefaultSettings())
		require.NoError(t, err)
		gws := decodeItems[readerGateway](t, byName(res)["ConfigMap/meridio-configuration-trench-a"].(*corev1.ConfigMap), "gateways")
		assert.Equal(t, tc.want, gws[0].HoldTime, tc.hold)
		assert.Equal(t, []uint{1000, 2}, []uint{gws[0].MinTx, gws[0].MinRx})
		assert.Equal(t, uint16(7), gws[0].Multiplier)
	}
}

// Test_emptyTrenchConfigMap: a trench without resources has every list key, empty.
func Test_emptyTrenchConfigMap(t *testing.T) {
	s := &meridiov1.Snapshot{Trench: loadExample(t, "trench-a.yaml")[0].Trench}
	res, err := render.Render(s, render.DefaultSettings())
	require.NoError(t, err)
	cm := byName(res)["ConfigMap/meridio-configuration-trench-a"].(*corev1.ConfigMap)
	assert.Equal(t, map[string]string{
		"trench": "name: trench-a\n", "vips": "items: []\n", "gateways": "items: []\n", "attractors": "items: []\n",
		"conduits": "items: []\n", "streams": "items: []\n", "flows": "items: []\n",
	}, cm.Data)
	assert.Len(t, res.Items, 5, "NSP, IPAM, their services and the ConfigMap")
}
