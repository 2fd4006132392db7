package cluster

import (
	"context"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/render"
)

// resourceVersions of every rendered object of a trench.
func resourceVersions(t *testing.T, trench string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, list := range render.KindLists() {
		require.NoError(t, c.List(context.Background(), list, client.InNamespace(ns), client.MatchingLabels{render.LabelTrench: trench}))
		items, err := render.Items(list)
		require.NoError(t, err)
		for _, o := range items {
			out[render.ID(o)] = o.GetResourceVersion()
		}
	}
	return out
}

// Test_writes: creating a trench applies each rendered object once; reconciling it again
// without a change writes nothing; a Flow edit writes the ConfigMap and nothing else (the
// reference operator makes about 3 writes per object it creates and 6-13 per Flow edit).
func Test_writes(t *testing.T) {
	settle(t, 300*time.Millisecond)
	create(t, trenchSet("w1")...)
	eventually(t, func(c *assert.CollectT) { assert.Len(c, resourceVersions(t, "w1"), 9) }, "rendered")
	created := settle(t, 500*time.Millisecond)
	assert.Empty(t, writes.TakeNoops(), "no write that changed nothing")
	got := applies(created)
	sort.Strings(got)
	got = slices.Compact(got) // the ConfigMap is written again when resources arrive after the trench
	assert.Equal(t, []string{
		"/api/v1/namespaces/meridio/configmaps/meridio-configuration-w1",
		"/api/v1/namespaces/meridio/services/ipam-service-w1",
		"/api/v1/namespaces/meridio/services/nsp-service-w1",
		"/apis/apps/v1/namespaces/meridio/daemonsets/proxy-c-w1",
		"/apis/apps/v1/namespaces/meridio/deployments/nse-vlan-a-w1",
		"/apis/apps/v1/namespaces/meridio/deployments/stateless-lb-frontend-a-w1",
		"/apis/apps/v1/namespaces/meridio/statefulsets/ipam-w1",
		"/apis/apps/v1/namespaces/meridio/statefulsets/nsp-w1",
		"/apis/policy/v1/namespaces/meridio/poddisruptionbudgets/pdb-a-w1",
	}, got, "each rendered object is written once")
	t.Logf("writes to create a trench of 7 resources: %d (%d applies, the rest adoption, status and events): %v", len(created), len(applies(created)), created)

	// Re-reconcile without a change: an annotation nobody reads triggers the trench.
	before := resourceVersions(t, "w1")
	n := reconciles(t)
	update(t, &meridiov1.Trench{}, "w1", func(tr *meridiov1.Trench) { tr.Annotations = map[string]string{"touched": "1"} })
	eventually(t, func(c *assert.CollectT) { assert.Greater(c, reconciles(t), n) }, "re-reconciled")
	assert.Empty(t, settle(t, 300*time.Millisecond), "a reconcile without a change writes nothing")
	assert.Equal(t, before, resourceVersions(t, "w1"))

	// A Flow edit.
	update(t, &meridiov1.Flow{}, "f-w1", func(f *meridiov1.Flow) { f.Spec.DestinationPorts = []string{"8080"} })
	eventually(t, func(c *assert.CollectT) {
		assert.Contains(c, get(c, &corev1.ConfigMap{}, "meridio-configuration-w1").Data["flows"], "8080")
	}, "flow edit applied")
	edit := settle(t, 300*time.Millisecond)
	assert.Empty(t, writes.TakeNoops(), "no write that changed nothing")
	assert.Equal(t, []string{"/api/v1/namespaces/meridio/configmaps/meridio-configuration-w1"}, applies(edit))
	assert.Equal(t, []string{
		"PATCH /api/v1/namespaces/meridio/configmaps/meridio-configuration-w1",
		"PATCH /apis/meridio.nordix.org/v1alpha1/namespaces/meridio/flows/f-w1/status",
	}, nonEvents(edit), "the ConfigMap, and the flow's observed generation")
	after := resourceVersions(t, "w1")
	for id, rv := range before {
		if id != "ConfigMap/meridio-configuration-w1" {
			assert.Equal(t, rv, after[id], id)
		}
	}
}

// SPEC e2e 33, 41, 50, 58: creating gateways, vips, streams and flows changes the trench
// ConfigMap only; no workload is rolled.
func Test_configResourcesLeaveWorkloadsAlone(t *testing.T) {
	set := trenchSet("w2")
	create(t, set[0], set[1], set[2]) // trench, conduit, attractor
	eventually(t, func(c *assert.CollectT) { assert.Len(c, resourceVersions(t, "w2"), 9) }, "rendered")
	settle(t, 300*time.Millisecond)
	before := resourceVersions(t, "w2")

	create(t, set[3:]...) // gateway, vip, stream, flow
	eventually(t, func(c *assert.CollectT) {
		assert.Equal(c, []string{"f-w2"}, configItems(get(c, &corev1.ConfigMap{}, "meridio-configuration-w2"), "flows"))
	}, "configured")
	settle(t, 300*time.Millisecond)
	after := resourceVersions(t, "w2")
	for id, rv := range before {
		if id != "ConfigMap/meridio-configuration-w2" {
			assert.Equal(t, rv, after[id], "%s changed", id)
		}
	}
	assert.NotEqual(t, before["ConfigMap/meridio-configuration-w2"], after["ConfigMap/meridio-configuration-w2"])
}

// Test_metrics: the operator counts what it applies per trench and times its renders.
func Test_metrics(t *testing.T) {
	create(t, trenchSet("w3")...)
	eventually(t, func(c *assert.CollectT) { assert.Len(c, resourceVersions(t, "w3"), 9) }, "rendered")
	// The counters are updated once the reconcile that applied the objects has reported.
	eventually(t, func(col *assert.CollectT) {
		families, err := metrics.Registry.Gather()
		require.NoError(col, err)
		found := map[string]float64{}
		for _, f := range families {
			for _, m := range f.GetMetric() {
				labels := map[string]string{}
				for _, l := range m.GetLabel() {
					labels[l.GetName()] = l.GetValue()
				}
				switch f.GetName() {
				case "meridio_operator_objects_applied_total":
					if labels["trench"] == "w3" && labels["namespace"] == ns {
						found[f.GetName()] = m.GetCounter().GetValue()
					}
				case "meridio_operator_render_duration_seconds":
					found[f.GetName()] = float64(m.GetHistogram().GetSampleCount())
				case "meridio_operator_reconcile_duration_seconds":
					if labels["trench"] == "w3" {
						found[f.GetName()] = float64(m.GetHistogram().GetSampleCount())
					}
				}
			}
		}
		assert.GreaterOrEqual(col, found["meridio_operator_objects_applied_total"], 9.0)
		assert.Positive(col, found["meridio_operator_render_duration_seconds"])
		assert.Positive(col, found["meridio_operator_reconcile_duration_seconds"])
	}, "metrics reported")
}
