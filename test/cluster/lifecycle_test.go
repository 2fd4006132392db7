package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/clustersink"
	"github.com/meridio-operator/meridio-operator/internal/testutil"
)

// SPEC e2e 5, 11, 14, 20, 27: deleting a resource removes what it caused; deleting the trench
// removes everything, its resources included (the operator does not wait for the garbage
// collector, which this API server lacks).
func TestDelete_cleansUp(t *testing.T) {
	create(t, trenchSet("t5")...)
	create(t, trenchSet("t5b")...)
	eventually(t, func(c *assert.CollectT) {
		assert.True(c, exists(&appsv1.DaemonSet{}, "proxy-c-t5"))
		assert.True(c, exists(&appsv1.DaemonSet{}, "proxy-c-t5b"))
		assert.Len(c, get(c, &meridiov1.Flow{}, "f-t5").GetOwnerReferences(), 1)
	}, "both trenches rendered")

	require.NoError(t, c.Delete(context.Background(), get(t, &meridiov1.Attractor{}, "a-t5")))
	eventually(t, func(c *assert.CollectT) {
		assert.False(c, exists(&appsv1.Deployment{}, "nse-vlan-a-t5"))
		assert.False(c, exists(&appsv1.Deployment{}, "stateless-lb-frontend-a-t5"))
		assert.False(c, exists(&policyv1.PodDisruptionBudget{}, "pdb-a-t5"))
		assert.Empty(c, configItems(configMap(c, "t5"), "attractors"))
	}, "attractor workloads pruned")
	assert.True(t, exists(&appsv1.Deployment{}, "nse-vlan-a-t5b"), "the other trench is untouched")

	require.NoError(t, c.Delete(context.Background(), get(t, &meridiov1.Conduit{}, "c-t5")))
	eventually(t, func(c *assert.CollectT) {
		assert.False(c, exists(&appsv1.DaemonSet{}, "proxy-c-t5"))
		assert.Empty(c, configItems(configMap(c, "t5"), "conduits"))
	}, "conduit proxy pruned")

	require.NoError(t, c.Delete(context.Background(), get(t, &meridiov1.Trench{}, "t5")))
	eventually(t, func(c *assert.CollectT) {
		assert.False(c, exists(&appsv1.StatefulSet{}, "nsp-t5"))
		assert.False(c, exists(&appsv1.StatefulSet{}, "ipam-t5"))
		assert.False(c, exists(&corev1.Service{}, "nsp-service-t5"))
		assert.False(c, exists(&corev1.ConfigMap{}, "meridio-configuration-t5"))
		assert.False(c, exists(&meridiov1.Gateway{}, "g-t5"), "the trench's resources go with it")
		assert.False(c, exists(&meridiov1.Stream{}, "s-t5"))
		assert.False(c, exists(&meridiov1.Flow{}, "f-t5"))
	}, "trench deleted with everything")
	assert.True(t, exists(&appsv1.StatefulSet{}, "nsp-t5b"))
	assert.True(t, exists(&meridiov1.Flow{}, "f-t5b"))
}

// Drift repair: a deleted rendered object is recreated, a manual edit of a field the operator
// manages is reverted, and what the operator does not manage is left alone.
func TestDrift_repaired(t *testing.T) {
	create(t, trenchSet("t6")...)
	eventually(t, func(c *assert.CollectT) { assert.True(c, exists(&appsv1.Deployment{}, "nse-vlan-a-t6")) }, "rendered")

	require.NoError(t, c.Delete(context.Background(), get(t, &appsv1.Deployment{}, "nse-vlan-a-t6")))
	eventually(t, func(c *assert.CollectT) { assert.True(c, exists(&appsv1.Deployment{}, "nse-vlan-a-t6")) }, "deleted Deployment recreated")

	update(t, &appsv1.Deployment{}, "stateless-lb-frontend-a-t6", func(d *appsv1.Deployment) {
		d.Spec.Replicas = new(int32(7))
		d.Spec.Template.Spec.Containers[0].Image = "evil/image:1"
		d.Labels["team"] = "blue"
	})
	eventually(t, func(c *assert.CollectT) {
		d := get(c, &appsv1.Deployment{}, "stateless-lb-frontend-a-t6")
		assert.Equal(c, int32(1), *d.Spec.Replicas)
		assert.Equal(c, "registry.nordix.org/cloud-native/meridio/stateless-lb:latest", d.Spec.Template.Spec.Containers[0].Image)
		assert.Equal(c, "blue", d.Labels["team"], "a label the operator does not manage stays")
	}, "manual edits reverted")

	update(t, &corev1.Service{}, "nsp-service-t6", func(s *corev1.Service) { s.Spec.Selector["app"] = "other" })
	eventually(t, func(c *assert.CollectT) {
		assert.Equal(c, "nsp-t6", get(c, &corev1.Service{}, "nsp-service-t6").Spec.Selector["app"])
	}, "service selector reverted")
}

// A rendered object the operator created (a plain create, its fields owned by an Update entry
// of the operator's field manager) loses a field the render no longer has at its next apply:
// the entry is merged into the operator's apply entry first. The stale field is planted as an
// earlier render would have left it, by the operator's field manager, with a drift that makes
// the operator apply again.
func TestCreated_droppedFieldsRemoved(t *testing.T) {
	create(t, trenchSet("t8")...)
	eventually(t, func(c *assert.CollectT) { assert.True(c, exists(&appsv1.Deployment{}, "nse-vlan-a-t8")) }, "rendered")
	d := get(t, &appsv1.Deployment{}, "nse-vlan-a-t8")
	require.Len(t, d.ManagedFields, 1, "created by the operator")
	assert.Equal(t, metav1.ManagedFieldsOperationUpdate, d.ManagedFields[0].Operation)

	require.NoError(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		d := get(t, &appsv1.Deployment{}, "nse-vlan-a-t8")
		d.Annotations = map[string]string{"meridio.nordix.org/from-an-earlier-render": "x"}
		d.Spec.Replicas = new(int32(5))
		return c.Update(context.Background(), d, client.FieldOwner(clustersink.FieldOwner))
	}))
	eventually(t, func(c *assert.CollectT) {
		d := get(c, &appsv1.Deployment{}, "nse-vlan-a-t8")
		assert.Equal(c, int32(1), *d.Spec.Replicas)
		assert.NotContains(c, d.Annotations, "meridio.nordix.org/from-an-earlier-render")
		require.Len(c, d.ManagedFields, 1)
		assert.Equal(c, metav1.ManagedFieldsOperationApply, d.ManagedFields[0].Operation)
	}, "applied over, the stale field removed")
}

// SPEC e2e annotation behaviour (§4): the resource-template annotation sets the containers'
// requirements, an unknown name stalls the resource with an event, removing it clears them.
func TestResourceTemplate_annotation(t *testing.T) {
	create(t, trenchSet("t7")...)
	lb := func(c require.TestingT) corev1.Container {
		return get(c, &appsv1.Deployment{}, "stateless-lb-frontend-a-t7").Spec.Template.Spec.Containers[0]
	}
	eventually(t, func(c *assert.CollectT) { assert.Empty(c, lb(c).Resources) }, "no template")

	annotate := func(v string) {
		update(t, &meridiov1.Attractor{}, "a-t7", func(a *meridiov1.Attractor) {
			if v == "" {
				delete(a.Annotations, meridiov1.ResourceTemplateAnnotation)
				return
			}
			if a.Annotations == nil {
				a.Annotations = map[string]string{}
			}
			a.Annotations[meridiov1.ResourceTemplateAnnotation] = v
		})
	}
	annotate("large")
	eventually(t, func(c *assert.CollectT) {
		l := lb(c).Resources.Limits
		assert.Equal(c, "4", l.Cpu().String())
		assert.Equal(c, "large", get(c, &appsv1.Deployment{}, "stateless-lb-frontend-a-t7").Annotations[meridiov1.ResourceTemplateAnnotation])
	}, "large template applied")

	annotate("huge")
	eventually(t, func(c *assert.CollectT) {
		assert.Empty(c, lb(c).Resources)
		a := get(c, &meridiov1.Attractor{}, "a-t7")
		requireCondition(c, a, meta.StalledCondition, metav1.ConditionTrue, "ResourceTemplateNotFound")
		requireCondition(c, a, meta.ReadyCondition, metav1.ConditionFalse, "ResourceTemplateNotFound")
		var evs eventsv1.EventList
		require.NoError(c, env.Client.List(context.Background(), &evs, client.InNamespace(ns)))
		found := false
		for _, e := range evs.Items {
			found = found || (e.Regarding.Name == "a-t7" && e.Reason == "ResourceTemplateNotFound" && e.Type == corev1.EventTypeWarning)
		}
		assert.True(c, found, "a warning event on the attractor")
	}, "unknown template reported")

	annotate("")
	eventually(t, func(c *assert.CollectT) {
		assert.Empty(c, lb(c).Resources)
		assert.Nil(c, findCondition(get(c, &meridiov1.Attractor{}, "a-t7"), meta.StalledCondition))
	}, "template removed")
}

// SPEC e2e 6: resources in a namespace the operator does not watch are left alone.
func TestOtherNamespace_ignored(t *testing.T) {
	for _, d := range trenchSet("t8") {
		o := testutil.MustDecode(t, d)
		o.SetNamespace(otherNS)
		require.NoError(t, c.Create(context.Background(), o))
	}
	time.Sleep(2 * time.Second)
	var deps appsv1.DeploymentList
	require.NoError(t, c.List(context.Background(), &deps, client.InNamespace(otherNS)))
	assert.Empty(t, deps.Items)
	var cms corev1.ConfigMapList
	require.NoError(t, c.List(context.Background(), &cms, client.InNamespace(otherNS), client.HasLabels{"app.kubernetes.io/managed-by"}))
	assert.Empty(t, cms.Items)
	tr := &meridiov1.Trench{}
	require.NoError(t, c.Get(context.Background(), client.ObjectKey{Namespace: otherNS, Name: "t8"}, tr))
	assert.Empty(t, tr.Status.Conditions)
}

// SPEC e2e 3, 7, 16, 23, 34, 42, 51 and the label rule: the operator's webhooks refuse a
// resource whose trench does not exist and a change of the trench label.
func TestAdmission_trenchRules(t *testing.T) {
	o := testutil.MustDecode(t, cr("Vip", "orphan", "nowhere", `{address: 20.0.0.1/32}`))
	err := c.Create(context.Background(), o)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "unable to find the trench in label, Vip cannot be created")

	create(t, cr("Trench", "t9", "", `{}`), cr("Trench", "t9b", "", `{}`), cr("Vip", "v-t9", "t9", `{address: 20.0.0.1/32}`))
	// The operator writes the resources too (adoption, status): a conflict is retried.
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		v := get(t, &meridiov1.Vip{}, "v-t9")
		v.Labels[meridiov1.TrenchLabel] = "t9b"
		return c.Update(context.Background(), v)
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "metadata.labels[trench]")

	assert.True(t, apierrors.IsForbidden(err), "%v", err)

	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		tr := get(t, &meridiov1.Trench{}, "t9")
		tr.Spec.IPFamily = meridiov1.IPv4
		return c.Update(context.Background(), tr)
	})
	require.Error(t, err, "ip-family is immutable")
	assert.True(t, apierrors.IsForbidden(err), "%v", err)
	assert.Contains(t, err.Error(), "spec.ip-family")
}
