package v1alpha1

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

func paths(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Field)
	}
	return out
}

func Test_parsePortSpec(t *testing.T) {
	for in, want := range map[string]*portRange{
		"any": {0, 65535}, "0": {0, 0}, "65535": {65535, 65535}, "80-90": {80, 90}, "7-7": {7, 7},
		"65536": nil, "-1": nil, "90-80": nil, "1-2-3": nil, "": nil, " 80": nil, "80 ": nil, "ANY": nil, "a-b": nil, "1-": nil,
	} {
		got, err := parsePortSpec(in)
		if want == nil {
			assert.Error(t, err, in)
			continue
		}
		assert.NoError(t, err, in)
		assert.Equal(t, *want, got, in)
	}
}

func Test_validatePortList(t *testing.T) {
	p := field.NewPath("ports")
	assert.Empty(t, validatePortList([]string{"80", "81-90", "91"}, p))
	assert.Equal(t, []string{"ports[1]"}, paths(validatePortList([]string{"80-90", "90"}, p)))
	assert.Equal(t, []string{"ports[1]"}, paths(validatePortList([]string{"1", "any"}, p)))
	assert.Equal(t, []string{"ports[0]"}, paths(validatePortList([]string{"x", "80"}, p)))
}

func Test_validateSubnetList(t *testing.T) {
	p := field.NewPath("s")
	assert.Empty(t, validateSubnetList([]string{"10.0.0.0/8", "11.0.0.0/8", "2001:db8::/32"}, p))
	assert.Equal(t, []string{"s[1]"}, paths(validateSubnetList([]string{"10.0.0.0/16", "10.0.0.0/8"}, p)), "contains in the other direction")
	assert.Equal(t, []string{"s[1]"}, paths(validateSubnetList([]string{"10.0.0.0/8", "10.0.0.0/8"}, p)), "equal")
	assert.Equal(t, []string{"s[0]"}, paths(validateSubnetList([]string{"10.0.0.1/8"}, p)))
}

func Test_parsePrefixMistakes(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.0.1/28":  hostBitsSet,
		"10.0.0.1":     notAPrefix,
		"":             notAPrefix,
		"10.0.0/8":     notPrefixAddress,
		"fe80::1%e/64": notPrefixAddress,
		"10.0.0.0/":    notPrefixLength,
		"10.0.0.0/-1":  notPrefixLength,
		"10.0.0.0/33":  lengthOutOfRange,
		"::/129":       lengthOutOfRange,
		"10.0.0.0/08":  notAPrefix,
	} {
		_, err := parsePrefix(in)
		assert.EqualError(t, err, want, in)
	}
	for _, ok := range []string{"10.0.0.1/32", "0.0.0.0/0", "2001:db8::/64", "::/0"} {
		_, err := parsePrefix(ok)
		assert.NoError(t, err, ok)
	}
}

func Test_byteMatch(t *testing.T) {
	for _, ok := range []string{"tcp[2:2] = 80", "udp[4 : 2] & 0xff00 = 0x1000", "sctp[0:4]=1", "tcp[13:1] & 0x02 = 0x02"} {
		assert.Empty(t, validateByteMatches([]string{ok}, field.NewPath("b")), ok)
	}
	for _, bad := range []string{"tcp[2:3] = 80", "icmp[0:1] = 1", "tcp[2:2] = 0xZZ", "tcp[2:2]", "tcp[2:2] & 0xFF = 1"} {
		assert.NotEmpty(t, validateByteMatches([]string{bad}, field.NewPath("b")), bad)
	}
}

func bgpGateway() *Gateway {
	g := &Gateway{Spec: GatewaySpec{Address: "1.2.3.4", Protocol: ProtocolBGP, Bgp: BgpSpec{
		RemoteASN: ptr.To[uint32](1), LocalASN: ptr.To[uint32](2), RemotePort: ptr.To[uint16](179), LocalPort: ptr.To[uint16](179), HoldTime: "3s",
	}}}
	g.Name, g.Labels = "g", map[string]string{TrenchLabel: "t"}
	return g
}

func Test_gatewayValidate(t *testing.T) {
	assert.Empty(t, bgpGateway().Validate(nil), "3s is accepted (the reference says > 3s but checks >= 3000 ms)")
	g := bgpGateway()
	g.Spec.Bgp.HoldTime = "2999ms"
	assert.Equal(t, []string{"spec.bgp.hold-time"}, paths(g.Validate(nil)))
	g = bgpGateway()
	g.Spec.Bgp.RemoteASN, g.Spec.Bgp.LocalPort = nil, nil
	assert.Equal(t, []string{"spec.bgp.remote-asn", "spec.bgp.local-port"}, paths(g.Validate(nil)))
	g = bgpGateway()
	g.Spec.Bgp.BFD = BfdSpec{Switch: ptr.To(true), MinTx: "x"}
	assert.Equal(t, []string{"spec.bgp.bfd.min-tx", "spec.bgp.bfd.min-rx", "spec.bgp.bfd.multiplier"}, paths(g.Validate(nil)))
	g = bgpGateway()
	g.Spec.Bgp.BFD = BfdSpec{Switch: ptr.To(false), MinTx: "x"}
	assert.Empty(t, g.Validate(nil), "bfd off checks nothing else")
	g = bgpGateway()
	g.Spec.Protocol = ProtocolStatic
	assert.Equal(t, []string{"spec.bgp"}, paths(g.Validate(nil)))
	g = bgpGateway()
	g.Spec.Address = "::ffff:1.2.3.4"
	assert.Empty(t, g.Validate(nil))
	assert.Equal(t, IPv4, IPFamilyOfAddress(g.Spec.Address), "IPv4-mapped addresses are ipv4")
}

func Test_gatewayDefault(t *testing.T) {
	g := &Gateway{Spec: GatewaySpec{Protocol: "STATIC"}}
	g.Default()
	assert.Equal(t, ProtocolStatic, g.Spec.Protocol)
	assert.Equal(t, BfdSpec{Switch: ptr.To(true), MinTx: "200ms", MinRx: "200ms", Multiplier: ptr.To[uint16](3)}, g.Spec.Static.BFD)
	assert.True(t, g.Spec.Bgp.IsEmpty())

	g = &Gateway{Spec: GatewaySpec{Bgp: BgpSpec{HoldTime: "30s", LocalPort: ptr.To[uint16](10179), BFD: BfdSpec{Switch: ptr.To(true), MinRx: "1s"}}}}
	g.Default()
	assert.Equal(t, ProtocolBGP, g.Spec.Protocol)
	assert.Equal(t, "30s", g.Spec.Bgp.HoldTime, "only missing values are set")
	assert.Equal(t, uint16(10179), *g.Spec.Bgp.LocalPort)
	assert.Equal(t, uint16(179), *g.Spec.Bgp.RemotePort)
	assert.Equal(t, BfdSpec{Switch: ptr.To(true), MinTx: "300ms", MinRx: "1s", Multiplier: ptr.To[uint16](3)}, g.Spec.Bgp.BFD)
}

func Test_conduitPortNats(t *testing.T) {
	nat := func(p, tp uint16, proto TransportProtocol, vips ...string) PortNatSpec {
		return PortNatSpec{Port: p, TargetPort: tp, Protocol: proto, Vips: vips}
	}
	for _, tc := range []struct {
		name string
		nats []PortNatSpec
		want []string
	}{
		{"distinct", []PortNatSpec{nat(80, 8080, TCP, "a"), nat(443, 8443, TCP, "a")}, nil},
		{"same port on other protocol", []PortNatSpec{nat(80, 8080, TCP, "a"), nat(80, 8080, UDP, "a")}, nil},
		{"same port on other vip", []PortNatSpec{nat(80, 8080, TCP, "a"), nat(80, 9090, TCP, "b")}, nil},
		{"port equal to own target", []PortNatSpec{nat(80, 80, TCP, "a")}, nil},
		{"must be merged", []PortNatSpec{nat(80, 8080, TCP, "a"), nat(80, 8080, TCP, "b")}, []string{"spec.destination-port-nats[1]"}},
		{"target collides with port", []PortNatSpec{nat(80, 8080, TCP, "a"), nat(8080, 9000, TCP, "a")}, []string{"spec.destination-port-nats[1]"}},
		{"vip twice in one entry", []PortNatSpec{nat(80, 8080, TCP, "a", "a")}, []string{"spec.destination-port-nats[0].vips[1]"}},
	} {
		c := &Conduit{Spec: ConduitSpec{Type: ConduitTypeStatelessLB, DestinationPortNats: tc.nats}}
		c.Labels = map[string]string{TrenchLabel: "t"}
		assert.Equal(t, tc.want, paths(c.Validate(nil)), tc.name)
	}
}

func flow(name, stream string, vips ...string) Flow {
	f := Flow{Spec: FlowSpec{Stream: stream, Vips: vips, Protocols: []TransportProtocol{TCP}}}
	f.Name, f.Labels = name, map[string]string{TrenchLabel: "t"}
	return f
}

func stream(name, conduit string) Stream {
	s := Stream{Spec: StreamSpec{Conduit: conduit, MaxTargets: 100}}
	s.Name = name
	return s
}

// Test_flowVipSharing follows the reference rule, quirk included: a flow whose stream does not
// exist counts as another conduit.
func Test_flowVipSharing(t *testing.T) {
	s := &Snapshot{
		Streams: []Stream{stream("s1", "c1"), stream("s1b", "c1"), stream("s2", "c2")},
		Flows:   []Flow{flow("f1", "s1", "v"), flow("orphan", "ghost", "w")},
	}
	same := flow("new", "s1b", "v")
	assert.Empty(t, same.Validate(s), "same conduit through another stream")
	other := flow("new", "s2", "v")
	assert.Equal(t, []string{"spec.vips[0]"}, paths(other.Validate(s)))
	toOrphan := flow("new", "s1", "w")
	assert.Equal(t, []string{"spec.vips[0]"}, paths(toOrphan.Validate(s)), "the orphan's stream does not exist")
	self := flow("f1", "s2", "v")
	assert.Empty(t, self.Validate(s), "a flow does not collide with itself on update")
}

func Test_attractorValidate(t *testing.T) {
	a := Attractor{Spec: AttractorSpec{Composites: []string{"c"}, Vips: []string{"v"}, Interface: InterfaceSpec{
		IPv4Prefix: "169.254.0.0/24", IPv6Prefix: "100::/64", Type: InterfaceTypeNSMVlan,
		NSMVlan: NSMVlanSpec{VlanID: ptr.To[int32](0), BaseInterface: "eth0"},
	}}}
	a.Name, a.Labels = "a", map[string]string{TrenchLabel: "t"}
	other := *a.DeepCopy()
	other.Name = "b"
	s := &Snapshot{Attractors: []Attractor{a, other}}
	assert.Equal(t, []string{"spec.composites[0]", "spec.vips[0]"}, paths(a.Validate(s)))
	assert.Empty(t, a.Validate(&Snapshot{Attractors: []Attractor{a}}), "the object itself is skipped")

	old := a.DeepCopy()
	a.Spec.Interface.NSMVlan.VlanID = ptr.To[int32](5)
	a.Spec.Interface.Type = InterfaceTypeNSMVlan
	old.Spec.Interface.Type = "NSM-VLAN"
	errs := a.ValidateUpdate(old)
	assert.Equal(t, []string{"spec.interface.nsm-vlan.vlan-id"}, paths(errs), "type compares with the lower-cased old value")
	assert.Equal(t, field.ErrorTypeForbidden, errs[0].Type)
	assert.True(t, strings.Contains(errs[0].Error(), "was 0"), errs[0].Error())
}

func Test_validateCreateNeedsTrench(t *testing.T) {
	v := &Vip{Spec: VipSpec{Address: "10.0.0.0/32"}}
	v.Name = "v"
	assert.Equal(t, []string{"metadata.labels[trench]"}, paths(ValidateCreate(v, &Snapshot{})))
	v.Labels = map[string]string{TrenchLabel: "t"}
	errs := ValidateCreate(v, &Snapshot{})
	assert.Contains(t, errs.ToAggregate().Error(), "unable to find the trench in label, Vip cannot be created")
	assert.Empty(t, ValidateCreate(v, &Snapshot{Trench: &Trench{}}))
}

func Test_trenchLabelImmutable(t *testing.T) {
	old := &Stream{}
	old.Labels = map[string]string{TrenchLabel: "a"}
	n := old.DeepCopy()
	assert.Empty(t, ValidateTrenchLabelUpdate(n, old))
	n.Labels[TrenchLabel] = "b"
	assert.Equal(t, []string{"metadata.labels[trench]"}, paths(ValidateTrenchLabelUpdate(n, old)))
	delete(n.Labels, TrenchLabel)
	assert.Equal(t, []string{"metadata.labels[trench]"}, paths(ValidateTrenchLabelUpdate(n, old)))
}
