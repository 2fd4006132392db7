package admission

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meridio-operator/meridio-operator/internal/offline"
	"github.com/meridio-operator/meridio-operator/internal/testutil"
	"github.com/meridio-operator/meridio-operator/render"
)

// cr builds a Meridio resource in YAML without a namespace; trench "" leaves the label out.
func cr(kind, name, trench, spec string) string { return testutil.CR("", kind, name, trench, spec) }

const (
	attractorSpec = `{composites: [c9], interface: {name: e, ipv4-prefix: 169.254.1.0/24, ipv6-prefix: "100::/64", nsm-vlan: {vlan-id: 10, base-interface: eth0}}}`
	bgpSpec       = `{address: 1.2.3.4, protocol: bgp, bgp: {remote-asn: 1, local-asn: 2, remote-port: 179, local-port: 179, hold-time: 30s}}`
)

// fixtures are the resources the cross-object cases collide with.
var fixtures = []string{
	cr("Trench", "t1", "", `{ip-family: dualstack}`),
	cr("Trench", "t2", "", `{ip-family: dualstack}`),
	cr("Attractor", "a1", "t1", `{composites: [c1], vips: [v1], interface: {name: e, ipv4-prefix: 169.254.0.0/24, ipv6-prefix: "100::/64", nsm-vlan: {vlan-id: 1, base-interface: eth0}}}`),
	cr("Stream", "s1", "t1", `{conduit: c1}`),
	cr("Stream", "s2", "t1", `{conduit: c2}`),
	cr("Flow", "f1", "t1", `{stream: s1, vips: [vx], protocols: [tcp], priority: 1}`),
}

type invalidCase struct {
	name string
	// before, when set, is created first and obj is then sent as an update of it.
	before string
	obj    string
	// path is the field path the refusal must name.
	path string
	// plain sends it to the API server without the mutating webhook.
	plain bool
}

var invalidCases = []invalidCase{
	// Trench
	{name: "trench ip-family not in enum", obj: cr("Trench", "x", "", `{ip-family: ipv5}`), path: "spec.ip-family"},
	{name: "trench ip-family changed", before: cr("Trench", "x", "", `{ip-family: dualstack}`), obj: cr("Trench", "x", "", `{ip-family: ipv4}`), path: "spec.ip-family"},
	{name: "trench ip-family wrong type", obj: cr("Trench", "x", "", `{ip-family: [ipv4]}`), path: "spec.ip-family"},
	// Attractor
	{name: "attractor without trench label", obj: cr("Attractor", "x", "", attractorSpec), path: "metadata.labels[trench]"},
	{name: "attractor with missing trench", obj: cr("Attractor", "x", "nope", attractorSpec), path: "metadata.labels[trench]"},
	{name: "attractor empty composites", obj: cr("Attractor", "x", "t1", strings.Replace(attractorSpec, "[c9]", "[]", 1)), path: "spec.composites"},
	{name: "attractor two composites", obj: cr("Attractor", "x", "t1", strings.Replace(attractorSpec, "[c9]", "[c8, c9]", 1)), path: "spec.composites"},
	{name: "attractor composites not a list", obj: cr("Attractor", "x", "t1", strings.Replace(attractorSpec, "[c9]", "c9", 1)), path: "spec.composites"},
	{name: "attractor composite of another attractor", obj: cr("Attractor", "x", "t1", strings.Replace(attractorSpec, "[c9]", "[c1]", 1)), path: "spec.composites[0]"},
	{name: "attractor vip of another attractor", obj: cr("Attractor", "x", "t1", strings.Replace(attractorSpec, "{composites", "{vips: [v1], composites", 1)), path: "spec.vips[0]"},
	{name: "attractor ipv4-prefix not a network", obj: cr("Attractor", "x", "t1", strings.Replace(attractorSpec, "169.254.1.0/24", "169.254.1.1/24", 1)), path: "spec.interface.ipv4-prefix"},
	{name: "attractor ipv6-prefix garbage", obj: cr("Attractor", "x", "t1", strings.Replace(attractorSpec, `"100::/64"`, "nonsense", 1)), path: "spec.interface.ipv6-prefix"},
	{name: "attractor interface type", obj: cr("Attractor", "x", "t1", strings.Replace(attractorSpec, "nsm-vlan:", "type: vlan, nsm-vlan:", 1)), path: "spec.interface.type"},
	{name: "attractor empty nsm-vlan", obj: cr("Attractor", "x", "t1", strings.Replace(attractorSpec, "{vlan-id: 10, base-interface: eth0}", "{}", 1)), path: "spec.interface.nsm-vlan.base-interface"},
	{name: "attractor without vlan-id", obj: cr("Attractor", "x", "t1", strings.Replace(attractorSpec, "vlan-id: 10, ", "", 1)), path: "spec.interface.nsm-vlan.vlan-id"},
	{name: "attractor replicas not a number", obj: cr("Attractor", "x", "t1", strings.Replace(attractorSpec, "{composites", "{replicas: two, composites", 1)), path: "spec.replicas"},
	{name: "attractor negative replicas", obj: cr("Attractor", "x", "t1", strings.Replace(attractorSpec, "{composites", "{replicas: -1, composites", 1)), path: "spec.replicas"},
	{name: "attractor ipv4-prefix changed", before: cr("Attractor", "x", "t1", attractorSpec), obj: cr("Attractor", "x", "t1", strings.Replace(attractorSpec, "169.254.1.0/24", "169.254.2.0/24", 1)), path: "spec.interface.ipv4-prefix"},
	{name: "attractor vlan-id changed", before: cr("Attractor", "x", "t1", attractorSpec), obj: cr("Attractor", "x", "t1", strings.Replace(attractorSpec, "vlan-id: 10", "vlan-id: 11", 1)), path: "spec.interface.nsm-vlan.vlan-id"},
	{name: "attractor ipv6-prefix changed", before: cr("Attractor", "x", "t1", attractorSpec), obj: cr("Attractor", "x", "t1", strings.Replace(attractorSpec, `"100::/64"`, `"200::/64"`, 1)), path: "spec.interface.ipv6-prefix"},
	{name: "attractor base-interface changed", before: cr("Attractor", "x", "t1", attractorSpec), obj: cr("Attractor", "x", "t1", strings.Replace(attractorSpec, "base-interface: eth0", "base-interface: eth1", 1)), path: "spec.interface.nsm-vlan.base-interface"},
	{name: "attractor name not a DNS subdomain", obj: cr("Attractor", "FE_blue", "t1", attractorSpec), path: "metadata.name"},
	{name: "attractor name too long for its Deployment's pod label", obj: cr("Attractor", strings.Repeat("a", 50), "t1", attractorSpec), path: "metadata.name"},
	{name: "attractor name with a dot", obj: cr("Attractor", "fe.blue", "t1", attractorSpec), path: "metadata.name"},
	{name: "conduit name too long for its DaemonSet", obj: cr("Conduit", strings.Repeat("c", 59), "t1", `{}`), path: "metadata.name"},
	{name: "trench name too long for its StatefulSets", obj: cr("Trench", strings.Repeat("t", 48), "", `{ip-family: dualstack}`), path: "metadata.name"},
	{name: "attractor trench label changed", before: cr("Attractor", "x", "t1", attractorSpec), obj: cr("Attractor", "x", "t2", attractorSpec), path: "metadata.labels[trench]"},
	// Gateway
	{name: "gateway without trench label", obj: cr("Gateway", "x", "", bgpSpec), path: "metadata.labels[trench]"},
	{name: "gateway address with prefix length", obj: cr("Gateway", "x", "t1", strings.Replace(bgpSpec, "1.2.3.4", "1.2.3.4/32", 1)), path: "spec.address"},
	{name: "gateway address not an IP", obj: cr("Gateway", "x", "t1", strings.Replace(bgpSpec, "1.2.3.4", "gw.example.com", 1)), path: "spec.address"},
	{name: "gateway protocol unknown", obj: cr("Gateway", "x", "t1", strings.Replace(bgpSpec, "protocol: bgp", "protocol: ospf", 1)), path: "spec.protocol"},
	{name: "gateway hold-time below 3s", obj: cr("Gateway", "x", "t1", strings.Replace(bgpSpec, "30s", "2999ms", 1)), path: "spec.bgp.hold-time"},
	{name: "gateway hold-time not a duration", obj: cr("Gateway", "x", "t1", strings.Replace(bgpSpec, "30s", "30", 1)), path: "spec.bgp.hold-time"},
	{name: "gateway bgp without remote-asn", obj: cr("Gateway", "x", "t1", strings.Replace(bgpSpec, "remote-asn: 1, ", "", 1)), path: "spec.bgp.remote-asn"},
	{name: "gateway asn not a number", obj: cr("Gateway", "x", "t1", strings.Replace(bgpSpec, "local-asn: 2", "local-asn: two", 1)), path: "spec.bgp.local-asn"},
	{name: "gateway remote-port above 65535", obj: cr("Gateway", "x", "t1", strings.Replace(bgpSpec, "remote-port: 179", "remote-port: 70000", 1)), path: "spec.bgp.remote-port"},
	{name: "gateway bgp with static section", obj: cr("Gateway", "x", "t1", strings.Replace(bgpSpec, "protocol: bgp,", "protocol: bgp, static: {bfd: {switch: true}},", 1)), path: "spec.static"},
	{name: "gateway static with bgp section", obj: cr("Gateway", "x", "t1", strings.Replace(bgpSpec, "protocol: bgp", "protocol: static", 1)), path: "spec.bgp"},
	{name: "gateway bfd without switch", obj: cr("Gateway", "x", "t1", strings.Replace(bgpSpec, "hold-time: 30s", "hold-time: 30s, bfd: {min-tx: 300ms}", 1)), path: "spec.bgp.bfd.switch", plain: true},
	{name: "gateway static bfd bad min-rx", obj: cr("Gateway", "x", "t1", `{address: 1.2.3.4, protocol: static, static: {bfd: {switch: true, min-rx: fast}}}`), path: "spec.static.bfd.min-rx"},
	{name: "gateway auth key-source not a name", obj: cr("Gateway", "x", "t1", strings.Replace(bgpSpec, "hold-time: 30s", "hold-time: 30s, auth: {key-name: k, key-source: Bad_Secret}", 1)), path: "spec.bgp.auth.key-source"},
	{name: "gateway auth key-name with slash", obj: cr("Gateway", "x", "t1", strings.Replace(bgpSpec, "hold-time: 30s", "hold-time: 30s, auth: {key-name: a/b, key-source: s}", 1)), path: "spec.bgp.auth.key-name"},
	{name: "gateway trench label changed", before: cr("Gateway", "x", "t1", bgpSpec), obj: cr("Gateway", "x", "t2", bgpSpec), path: "metadata.labels[trench]"},
	// Vip
	{name: "vip address not a network", obj: cr("Vip", "x", "t1", `{address: 20.0.0.1/24}`), path: "spec.address"},
	{name: "vip address without prefix length", obj: cr("Vip", "x", "t1", `{address: 20.0.0.1}`), path: "spec.address"},
	{name: "vip without address", obj: cr("Vip", "x", "t1", `{}`), path: "spec.address"},
	{name: "vip with missing trench", obj: cr("Vip", "x", "nope", `{address: 20.0.0.1/32}`), path: "metadata.labels[trench]"},
	{name: "vip trench label changed", before: cr("Vip", "x", "t1", `{address: 20.0.0.1/32}`), obj: cr("Vip", "x", "t2", `{address: 20.0.0.1/32}`), path: "metadata.labels[trench]"},
	// Conduit
	{name: "conduit trench label changed", before: cr("Conduit", "x", "t1", `{}`), obj: cr("Conduit", "x", "t2", `{}`), path: "metadata.labels[trench]"},
	{name: "conduit type unknown", obj: cr("Conduit", "x", "t1", `{type: stateful}`), path: "spec.type"},
	{name: "conduit port nats to merge", obj: cr("Conduit", "x", "t1", `{destination-port-nats: [{port: 80, target-port: 8080, vips: [v1], protocol: tcp}, {port: 80, target-port: 8080, vips: [v2], protocol: tcp}]}`), path: "spec.destination-port-nats[1]"},
	{name: "conduit port nats colliding", obj: cr("Conduit", "x", "t1", `{destination-port-nats: [{port: 80, target-port: 8080, vips: [v1], protocol: tcp}, {port: 8080, target-port: 9090, vips: [v1], protocol: tcp}]}`), path: "spec.destination-port-nats[1]"},
	{name: "conduit port nat protocol unknown", obj: cr("Conduit", "x", "t1", `{destination-port-nats: [{port: 80, target-port: 8080, vips: [v1], protocol: icmp}]}`), path: "spec.destination-port-nats[0].protocol"},
	{name: "conduit port nat port above 65535", obj: cr("Conduit", "x", "t1", `{destination-port-nats: [{port: 80000, target-port: 8080, vips: [v1], protocol: tcp}]}`), path: "spec.destination-port-nats[0].port"},
	// Stream
	{name: "stream max-targets zero", obj: cr("Stream", "x", "t1", `{conduit: c1, max-targets: 0}`), path: "spec.max-targets"},
	{name: "stream max-targets above 10000", obj: cr("Stream", "x", "t1", `{conduit: c1, max-targets: 10001}`), path: "spec.max-targets"},
	{name: "stream max-targets changed", before: cr("Stream", "x", "t1", `{conduit: c1, max-targets: 10}`), obj: cr("Stream", "x", "t1", `{conduit: c1, max-targets: 20}`), path: "spec.max-targets"},
	{name: "stream trench label changed", before: cr("Stream", "x", "t1", `{conduit: c1}`), obj: cr("Stream", "x", "t2", `{conduit: c1}`), path: "metadata.labels[trench]"},
	{name: "stream without trench label", obj: cr("Stream", "x", "", `{conduit: c1}`), path: "metadata.labels[trench]"},
	// Flow
	{name: "flow source port malformed", obj: cr("Flow", "x", "t1", `{vips: [vy], protocols: [tcp], priority: 1, source-ports: ["1-2-3"]}`), path: "spec.source-ports[0]"},
	{name: "flow destination ports overlap", obj: cr("Flow", "x", "t1", `{vips: [vy], protocols: [tcp], priority: 1, destination-ports: ["80", "70-90"]}`), path: "spec.destination-ports[1]"},
	{name: "flow destination port above 65535", obj: cr("Flow", "x", "t1", `{vips: [vy], protocols: [tcp], priority: 1, destination-ports: ["65536"]}`), path: "spec.destination-ports[0]"},
	{name: "flow port range reversed", obj: cr("Flow", "x", "t1", `{vips: [vy], protocols: [tcp], priority: 1, destination-ports: ["90-80"]}`), path: "spec.destination-ports[0]"},
	{name: "flow any overlaps a port", obj: cr("Flow", "x", "t1", `{vips: [vy], protocols: [tcp], priority: 1, source-ports: ["any", "5000"]}`), path: "spec.source-ports[1]"},
	{name: "flow source subnets contain each other", obj: cr("Flow", "x", "t1", `{vips: [vy], protocols: [tcp], priority: 1, source-subnets: [10.0.0.0/8, 10.1.0.0/16]}`), path: "spec.source-subnets[1]"},
	{name: "flow source subnet not a network", obj: cr("Flow", "x", "t1", `{vips: [vy], protocols: [tcp], priority: 1, source-subnets: [10.0.0.1/8]}`), path: "spec.source-subnets[0]"},
	{name: "flow duplicate protocol", obj: cr("Flow", "x", "t1", `{vips: [vy], protocols: [tcp, tcp], priority: 1}`), path: "spec.protocols[1]"},
	{name: "flow protocol unknown", obj: cr("Flow", "x", "t1", `{vips: [vy], protocols: [http], priority: 1}`), path: "spec.protocols[0]"},
	{name: "flow negative priority", obj: cr("Flow", "x", "t1", `{vips: [vy], protocols: [tcp], priority: -1}`), path: "spec.priority"},
	{name: "flow priority not a number", obj: cr("Flow", "x", "t1", `{vips: [vy], protocols: [tcp], priority: high}`), path: "spec.priority"},
	{name: "flow byte-match syntax", obj: cr("Flow", "x", "t1", `{vips: [vy], protocols: [tcp], priority: 1, byte-matches: ["tcp[1:3] = 1"]}`), path: "spec.byte-matches[0]"},
	{name: "flow vip shared with another conduit", obj: cr("Flow", "x", "t1", `{stream: s2, vips: [vx], protocols: [tcp], priority: 1}`), path: "spec.vips[0]"},
	{name: "flow without trench label", obj: cr("Flow", "x", "", `{vips: [vy], protocols: [tcp], priority: 1}`), path: "metadata.labels[trench]"},
	{name: "flow trench label changed", before: cr("Flow", "x", "t1", `{vips: [vz], protocols: [tcp], priority: 1}`), obj: cr("Flow", "x", "t2", `{vips: [vz], protocols: [tcp], priority: 1}`), path: "metadata.labels[trench]"},
	{name: "flow vips not a list", obj: cr("Flow", "x", "t1", `{vips: vy, protocols: [tcp], priority: 1}`), path: "spec.vips"},
}

// Test_invalidRefused sends each invalid resource to the real API server and checks that it is
// refused with a message naming the field, and that nothing of it was stored.
func Test_invalidRefused(t *testing.T) {
	require.GreaterOrEqual(t, len(invalidCases), 40)
	ctx := context.Background()
	for _, tc := range invalidCases {
		t.Run(tc.name, func(t *testing.T) {
			c := env.Client
			if tc.plain {
				c = plainEnv.Client
			}
			ns := testutil.Namespace(t, c)
			for _, f := range fixtures {
				o := testutil.MustDecode(t, f)
				o.SetNamespace(ns)
				require.NoError(t, c.Create(ctx, o), o.GetName())
			}
			obj := testutil.MustDecode(t, tc.obj)
			name := "bad"
			if obj.GetName() != "x" {
				name = obj.GetName() // the case is about the name
			}
			obj.SetNamespace(ns)
			obj.SetName(name)
			var err error
			var before *unstructured.Unstructured
			if tc.before != "" {
				before = testutil.MustDecode(t, tc.before)
				before.SetNamespace(ns)
				before.SetName(name)
				require.NoError(t, c.Create(ctx, before))
				obj.SetResourceVersion(before.GetResourceVersion())
				err = c.Update(ctx, obj)
			} else {
				err = c.Create(ctx, obj)
			}
			require.Error(t, err, "the API server accepted it")
			assert.Contains(t, err.Error(), tc.path)
			// Offline render gives the same verdict naming the same field. (Offline always
			// defaults as the mutating webhook does, so the cases sent without it are not
			// offline cases.)
			if !tc.plain {
				offErr := offlineVerdict(t, tc)
				require.Error(t, offErr, "offline accepted what the API server refused with: %v", err)
				assert.Contains(t, offErr.Error(), tc.path, "the API server said: %v", err)
			}
			if before != nil {
				assert.True(t, apierrors.IsForbidden(err), "a change of an immutable field is Forbidden (403), as in the reference: %v", err)
			} else {
				assert.True(t, apierrors.IsInvalid(err) || apierrors.IsBadRequest(err), "status: %v", err)
			}

			stored := &unstructured.Unstructured{}
			stored.SetGroupVersionKind(obj.GroupVersionKind())
			getErr := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, stored)
			if before == nil {
				assert.True(t, apierrors.IsNotFound(getErr), "a refused create left an object behind: %v", getErr)
				return
			}
			require.NoError(t, getErr)
			assert.Equal(t, before.GetResourceVersion(), stored.GetResourceVersion(), "a refused update changed the object")
		})
	}
}

// offlineVerdict is what the offline loader (meridio-operator render) says of a case: a create
// among the fixtures, or an update of tc.before.
func offlineVerdict(t *testing.T, tc invalidCase) error {
	t.Helper()
	if tc.before != "" {
		before, errs := offline.Decode("before.yaml", strings.NewReader(tc.before))
		require.Empty(t, errs)
		after, errs := offline.Decode("after.yaml", strings.NewReader(tc.obj))
		if len(errs) > 0 {
			return errors.Join(errs...)
		}
		return errors.Join(offline.ValidateUpdate(before[0], after[0])...)
	}
	res, errs := offline.Decode("case.yaml", strings.NewReader(strings.Join(append(slices.Clone(fixtures), tc.obj), "---\n")))
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	_, errs = offline.Snapshots(res, offline.DefaultNamespace)
	return errors.Join(append(errs, offline.NameErrors(res, render.DefaultSettings())...)...)
}

// Test_offlineFixturesValid: the fixtures the offline verdicts are given are valid offline, so
// a refusal is the case's own.
func Test_offlineFixturesValid(t *testing.T) {
	res, errs := offline.Decode("fixtures.yaml", strings.NewReader(strings.Join(fixtures, "---\n")))
	require.Empty(t, errs)
	_, errs = offline.Snapshots(res, offline.DefaultNamespace)
	require.Empty(t, errs)
}

// Test_immutableWithoutWebhooks: with no webhook installed, the admission policies shipped in
// config/policy still refuse every change of an immutable field or of the trench label, with
// 403 Forbidden, and let mutable changes through.
func Test_immutableWithoutWebhooks(t *testing.T) {
	ctx := context.Background()
	c := bareEnv.Client
	ns := testutil.Namespace(t, c)
	for _, f := range fixtures {
		o := testutil.MustDecode(t, f)
		o.SetNamespace(ns)
		require.NoError(t, c.Create(ctx, o), o.GetName())
	}
	n := 0
	for _, tc := range invalidCases {
		if tc.before == "" {
			continue
		}
		n++
		t.Run(tc.name, func(t *testing.T) {
			before := testutil.MustDecode(t, tc.before)
			before.SetNamespace(ns)
			before.SetName(fmt.Sprintf("bare-%d", n))
			require.NoError(t, c.Create(ctx, before))
			obj := testutil.MustDecode(t, tc.obj)
			obj.SetNamespace(ns)
			obj.SetName(before.GetName())
			obj.SetResourceVersion(before.GetResourceVersion())
			err := c.Update(ctx, obj)
			require.Error(t, err)
			assert.True(t, apierrors.IsForbidden(err), "%v", err)
			assert.Contains(t, err.Error(), tc.path)
		})
	}
	require.GreaterOrEqual(t, n, 12)

	mutable := testutil.MustDecode(t, cr("Attractor", "mutable", "t1", attractorSpec))
	mutable.SetNamespace(ns)
	require.NoError(t, c.Create(ctx, mutable))
	changed := testutil.MustDecode(t, cr("Attractor", "mutable", "t1", strings.Replace(attractorSpec, "{composites", "{replicas: 3, vips: [vz], composites", 1)))
	changed.SetNamespace(ns)
	changed.SetResourceVersion(mutable.GetResourceVersion())
	require.NoError(t, c.Update(ctx, changed), "replicas and vips may change")
}
