package cluster

import (
	"context"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/util/retry"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
)

func configMap(c require.TestingT, trench string) *corev1.ConfigMap {
	return get(c, &corev1.ConfigMap{}, "meridio-configuration-"+trench)
}

// update reads a resource, changes it and writes it back, again on a conflict (the operator
// may have just adopted it).
func update[T client.Object](t *testing.T, obj T, name string, change func(T)) {
	t.Helper()
	require.NoError(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		get(t, obj, name)
		change(obj)
		return c.Update(context.Background(), obj)
	}))
}

// SPEC e2e 12, 28, 37, 38, 45, 47, 55: editing a resource updates its ConfigMap item.
func TestConfigMap_followsEdits(t *testing.T) {
	create(t, trenchSet("t3")...)
	eventually(t, func(c *assert.CollectT) {
		assert.Equal(c, []string{"f-t3"}, configItems(configMap(c, "t3"), "flows"))
	}, "flow configured")

	update(t, &meridiov1.Vip{}, "v-t3", func(v *meridiov1.Vip) { v.Spec.Address = "20.0.0.2/32" })
	update(t, &meridiov1.Gateway{}, "g-t3", func(g *meridiov1.Gateway) { g.Spec.Address = "5.6.7.8" })
	update(t, &meridiov1.Attractor{}, "a-t3", func(a *meridiov1.Attractor) { a.Spec.Gateways = nil })
	eventually(t, func(c *assert.CollectT) {
		cm := configMap(c, "t3")
		assert.Contains(c, cm.Data["vips"], "address: 20.0.0.2/32")
		assert.NotContains(c, cm.Data["vips"], "20.0.0.1/32")
		assert.Contains(c, cm.Data["gateways"], "address: 5.6.7.8")
		assert.Contains(c, cm.Data["attractors"], "gateways: []")
	}, "vip, gateway and attractor edits")

	update(t, &meridiov1.Flow{}, "f-t3", func(f *meridiov1.Flow) { f.Spec.Stream = "" })
	update(t, &meridiov1.Stream{}, "s-t3", func(s *meridiov1.Stream) { s.Spec.Conduit = "" })
	eventually(t, func(c *assert.CollectT) {
		cm := configMap(c, "t3")
		assert.Empty(c, configItems(cm, "flows"))
		assert.Empty(c, configItems(cm, "streams"))
		// Left out on purpose: Ready (kstatus Current), so that a Flux wait is not held.
		for _, o := range []meridiov1.Object{get(c, &meridiov1.Flow{}, "f-t3"), get(c, &meridiov1.Stream{}, "s-t3")} {
			requireCondition(c, o, meta.ReadyCondition, metav1.ConditionTrue, meridiov1.NotConfiguredReason)
			u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
			require.NoError(c, err)
			res, err := kstatus.Compute(&unstructured.Unstructured{Object: u})
			require.NoError(c, err)
			assert.Equal(c, kstatus.CurrentStatus, res.Status, "kstatus: %s", res.Message)
		}
	}, "flow and stream left out")

	update(t, &meridiov1.Flow{}, "f-t3", func(f *meridiov1.Flow) { f.Spec.Stream = "ghost" })
	eventually(t, func(c *assert.CollectT) {
		assert.Equal(c, []string{"f-t3"}, configItems(configMap(c, "t3"), "flows"), "a dangling stream stays in the configuration, as in the reference")
		requireCondition(c, get(c, &meridiov1.Flow{}, "f-t3"), meta.ReadyCondition, metav1.ConditionFalse, meridiov1.StreamNotFoundReason)
	}, "flow with a missing stream")

	require.NoError(t, c.Delete(context.Background(), get(t, &meridiov1.Vip{}, "v-t3")))
	eventually(t, func(c *assert.CollectT) {
		assert.Empty(c, configItems(configMap(c, "t3"), "vips"))
		requireCondition(c, get(c, &meridiov1.Attractor{}, "a-t3"), meta.ReadyCondition, metav1.ConditionFalse, meta.ProgressingReason)
	}, "deleted vip removed")
}

// SPEC e2e 22, 32, 40, 49, 57: a deleted or edited ConfigMap is restored.
func TestConfigMap_restored(t *testing.T) {
	create(t, trenchSet("t4")...)
	var want map[string]string
	eventually(t, func(c *assert.CollectT) {
		cm := configMap(c, "t4") // one read: the ConfigMap may change between two
		want = cm.Data
		assert.Len(c, configItems(cm, "flows"), 1)
	}, "configured")

	require.NoError(t, c.Delete(context.Background(), configMap(t, "t4")))
	eventually(t, func(c *assert.CollectT) { assert.Equal(c, want, configMap(c, "t4").Data) }, "deleted ConfigMap recreated")

	for _, k := range []string{"conduits", "gateways", "streams", "flows", "vips"} {
		cm := configMap(t, "t4")
		cm.Data[k] = ""
		require.NoError(t, c.Update(context.Background(), cm))
		eventually(t, func(c *assert.CollectT) { assert.Equal(c, want, configMap(c, "t4").Data) }, k+" blanked and restored")
	}
}
