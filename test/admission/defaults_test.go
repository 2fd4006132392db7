package admission

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/internal/localapi"
	"github.com/meridio-operator/meridio-operator/internal/testutil"
)

// createAll creates the YAML resources in a new namespace and returns it.
func createAll(t *testing.T, e *localapi.Env, docs ...string) string {
	t.Helper()
	ns := testutil.Namespace(t, e.Client)
	for _, d := range docs {
		o := testutil.MustDecode(t, d)
		o.SetNamespace(ns)
		require.NoError(t, e.Client.Create(context.Background(), o), o.GetName())
	}
	return ns
}

// Test_schemaDefaultsWithoutMutatingWebhook checks that the CRD schema alone supplies the
// defaults it can, and that the Gateway fields only the webhook defaults stay unset.
func Test_schemaDefaultsWithoutMutatingWebhook(t *testing.T) {
	ctx := context.Background()
	ns := createAll(t, plainEnv,
		cr("Trench", "t", "", `{}`),
		cr("Attractor", "a", "t", `{composites: [c], interface: {name: e, ipv4-prefix: 169.254.1.0/24, ipv6-prefix: "100::/64", nsm-vlan: {vlan-id: 0, base-interface: eth0}}}`),
		cr("Conduit", "c", "t", `{}`),
		cr("Stream", "s", "t", `{conduit: c}`),
		cr("Gateway", "g", "t", `{address: 1.2.3.4, bgp: {remote-asn: 1, local-asn: 2, remote-port: 179, local-port: 179, hold-time: 30s}}`),
		cr("Gateway", "static", "t", `{address: 1.2.3.4, protocol: static}`),
	)
	key := func(name string) client.ObjectKey { return client.ObjectKey{Namespace: ns, Name: name} }

	var tr meridiov1.Trench
	require.NoError(t, plainEnv.Client.Get(ctx, key("t"), &tr))
	assert.Equal(t, meridiov1.Dualstack, tr.Spec.IPFamily)

	var a meridiov1.Attractor
	require.NoError(t, plainEnv.Client.Get(ctx, key("a"), &a))
	assert.Equal(t, ptr.To[int32](1), a.Spec.Replicas)
	assert.Equal(t, meridiov1.InterfaceTypeNSMVlan, a.Spec.Interface.Type)

	var c meridiov1.Conduit
	require.NoError(t, plainEnv.Client.Get(ctx, key("c"), &c))
	assert.Equal(t, meridiov1.ConduitTypeStatelessLB, c.Spec.Type)

	var s meridiov1.Stream
	require.NoError(t, plainEnv.Client.Get(ctx, key("s"), &s))
	assert.Equal(t, uint32(100), s.Spec.MaxTargets)

	var g meridiov1.Gateway
	require.NoError(t, plainEnv.Client.Get(ctx, key("g"), &g))
	assert.Equal(t, meridiov1.ProtocolBGP, g.Spec.Protocol)
	assert.Nil(t, g.Spec.Bgp.BFD.Switch, "BFD is defaulted by the mutating webhook only")

	var st meridiov1.Gateway
	require.NoError(t, plainEnv.Client.Get(ctx, key("static"), &st))
	assert.True(t, st.Spec.Static.BFD.IsEmpty(), "a static gateway without the webhook gets no BFD")

	// A bgp gateway relying on webhook defaults is refused without the webhook (SPEC e2e 25).
	o := testutil.MustDecode(t, cr("Gateway", "incomplete", "t", `{address: 1.2.3.4, bgp: {remote-asn: 1234, local-asn: 4321, hold-time: 30s, bfd: {switch: true}}}`))
	o.SetNamespace(ns)
	err := plainEnv.Client.Create(ctx, o)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "spec.bgp.remote-port")
	assert.Contains(t, err.Error(), "spec.bgp.bfd.min-tx")
}

// Test_mutatingWebhookDefaults checks the Gateway defaults of the mutating webhook (SPEC e2e 25, 30).
func Test_mutatingWebhookDefaults(t *testing.T) {
	ctx := context.Background()
	ns := createAll(t, env,
		cr("Trench", "t", "", `{}`),
		cr("Gateway", "bgp", "t", `{address: 1.2.3.4, protocol: BGP, bgp: {remote-asn: 1234, local-asn: 4321, hold-time: 30s, bfd: {switch: true}}}`),
		cr("Gateway", "static", "t", `{address: 1.2.3.4, protocol: static}`),
		cr("Gateway", "plain", "t", `{address: 1.2.3.4, bgp: {remote-asn: 1, local-asn: 2}}`),
	)
	get := func(name string) meridiov1.Gateway {
		var g meridiov1.Gateway
		require.NoError(t, env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &g))
		return g
	}
	b := get("bgp").Spec
	assert.Equal(t, "bgp", b.Protocol)
	assert.Equal(t, meridiov1.BgpSpec{
		RemoteASN: ptr.To[uint32](1234), LocalASN: ptr.To[uint32](4321),
		RemotePort: ptr.To[uint16](179), LocalPort: ptr.To[uint16](179), HoldTime: "30s",
		BFD: meridiov1.BfdSpec{Switch: ptr.To(true), MinTx: "300ms", MinRx: "300ms", Multiplier: ptr.To[uint16](3)},
	}, b.Bgp)

	s := get("static").Spec
	assert.Equal(t, meridiov1.BfdSpec{Switch: ptr.To(true), MinTx: "200ms", MinRx: "200ms", Multiplier: ptr.To[uint16](3)}, s.Static.BFD)
	assert.True(t, s.Bgp.IsEmpty())

	p := get("plain").Spec.Bgp
	assert.Equal(t, "240s", p.HoldTime)
	assert.Equal(t, meridiov1.BfdSpec{Switch: ptr.To(false)}, p.BFD)
}
