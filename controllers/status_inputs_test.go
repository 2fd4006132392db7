package controllers

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/delivery"
	"github.com/meridio-operator/meridio-operator/internal/offline"
	"github.com/meridio-operator/meridio-operator/render"
)

// exampleSnapshot reads examples/trench-a.yaml: a dualstack trench, a conduit, an attractor,
// two gateways, two vips, a stream and a flow.
func exampleSnapshot(t *testing.T) *meridiov1.Snapshot {
	t.Helper()
	res, errs := offline.ReadPaths([]string{filepath.Join("..", "examples", "trench-a.yaml")}, nil)
	require.Empty(t, errs)
	snaps, errs := offline.Snapshots(res, "default")
	require.Empty(t, errs)
	require.Len(t, snaps, 1)
	return snaps[0]
}

// Test_statusInputsFor: which objects, problems and findings reach each resource's status is
// read from the render and the snapshot, never from rebuilt names.
func Test_statusInputsFor(t *testing.T) {
	ids := func(ls []liveState) []string {
		var out []string
		for _, l := range ls {
			out = append(out, l.ID)
		}
		return out
	}
	reasons := func(in statusInputs) []string {
		var out []string
		for _, p := range in.problems {
			out = append(out, p.Reason)
		}
		for _, f := range in.findings {
			out = append(out, f.Reason)
		}
		return out
	}
	attr := render.Owner{Kind: "Attractor", Name: "attr1"}
	flow := render.Owner{Kind: "Flow", Name: "flow-1"}
	vip := render.Owner{Kind: "Vip", Name: "vip1"}
	stream := render.Owner{Kind: "Stream", Name: "stream-1"}
	trench := render.Owner{Kind: "Trench", Name: "trench-a"}
	boom := &delivery.Error{Reason: "GitPushFailed", Err: errors.New("boom")}
	for _, tc := range []struct {
		name   string
		change func(s *meridiov1.Snapshot)
		del    delivery.Result
		err    error
		check  func(t *testing.T, in map[render.Owner]statusInputs)
	}{
		{name: "an attractor follows its own objects", check: func(t *testing.T, in map[render.Owner]statusInputs) {
			assert.Equal(t, []string{"Deployment/nse-vlan-attr1", "Deployment/stateless-lb-frontend-attr1", "PodDisruptionBudget/pdb-attr1"}, ids(in[attr].objects))
			assert.Empty(t, reasons(in[attr]))
		}},
		{name: "flows, streams, vips and gateways follow the configuration", check: func(t *testing.T, in map[render.Owner]statusInputs) {
			for _, o := range []render.Owner{flow, vip, stream, {Kind: "Gateway", Name: "gateway1"}} {
				assert.Equal(t, []string{"ConfigMap/meridio-configuration-trench-a"}, ids(in[o].objects), o.Name)
			}
		}},
		{name: "the trench follows its own objects", check: func(t *testing.T, in map[render.Owner]statusInputs) {
			assert.Equal(t, []string{"ConfigMap/meridio-configuration-trench-a", "Service/ipam-service-trench-a", "Service/nsp-service-trench-a",
				"StatefulSet/ipam-trench-a", "StatefulSet/nsp-trench-a"}, ids(in[trench].objects))
		}},
		{name: "an address family mismatch is a finding", change: func(s *meridiov1.Snapshot) {
			s.Trench.Spec.IPFamily = "ipv4"
			s.Vips[0].Spec.Address = "2001:db8::1/128"
		}, check: func(t *testing.T, in map[render.Owner]statusInputs) {
			assert.Equal(t, []string{meridiov1.IPFamilyMismatchReason}, reasons(in[vip]))
		}},
		{name: "a dangling reference is a finding", change: func(s *meridiov1.Snapshot) {
			s.Flows[0].Spec.Stream = "nope"
		}, check: func(t *testing.T, in map[render.Owner]statusInputs) {
			assert.Equal(t, []string{meridiov1.StreamNotFoundReason}, reasons(in[flow]))
		}},
		{name: "a stream without conduit is left out", change: func(s *meridiov1.Snapshot) {
			s.Streams[0].Spec.Conduit = ""
		}, check: func(t *testing.T, in map[render.Owner]statusInputs) {
			assert.Contains(t, in[stream].excluded, "spec.conduit is empty")
		}},
		{name: "an attractor whose names cannot render is stalled alone", change: func(s *meridiov1.Snapshot) {
			s.Attractors[0].Name = strings.Repeat("a", 50)
		}, check: func(t *testing.T, in map[render.Owner]statusInputs) {
			long := render.Owner{Kind: "Attractor", Name: strings.Repeat("a", 50)}
			assert.Equal(t, []string{render.ReasonInvalidName}, reasons(in[long])[:1])
			assert.Empty(t, in[long].objects)
			assert.Empty(t, in[flow].problems)
			assert.NotEmpty(t, in[flow].objects)
		}},
		{name: "a trench whose names cannot render stalls all its resources", change: func(s *meridiov1.Snapshot) {
			s.Trench.Name = strings.Repeat("t", 60)
		}, check: func(t *testing.T, in map[render.Owner]statusInputs) {
			for o, i := range in {
				require.NotEmpty(t, i.problems, o.Name)
				assert.Equal(t, render.ReasonInvalidName, i.problems[len(i.problems)-1].Reason, o.Name)
				assert.Empty(t, i.objects, o.Name)
			}
		}},
		{name: "the delivery reaches every resource", del: delivery.Result{Pending: true, Revision: "main@sha1:1"}, err: boom,
			check: func(t *testing.T, in map[render.Owner]statusInputs) {
				for o, i := range in {
					assert.True(t, i.pending, o.Name)
					assert.Equal(t, boom, i.deliverErr, o.Name)
				}
				assert.Equal(t, "main@sha1:1", in[trench].revision)
				assert.Empty(t, in[flow].revision)
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := exampleSnapshot(t)
			if tc.change != nil {
				tc.change(s)
			}
			res, err := render.Render(s, render.DefaultSettings())
			require.NoError(t, err)
			live := map[string]liveState{}
			for _, it := range res.Items {
				id := render.ID(it.Object)
				live[id] = liveState{ID: id, Applied: true, Current: true}
			}
			in := statusInputsFor(s, res, live, tc.del, tc.err)
			require.Len(t, in, len(resources(s)), "one input per resource")
			for _, o := range resources(s) {
				assert.Equal(t, o.GetGeneration(), in[render.OwnerOf(o)].generation)
			}
			tc.check(t, in)
		})
	}
}
