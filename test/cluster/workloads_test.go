package cluster

import (
	"context"
	"fmt"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/render"
)

// controlledBy checks the controller owner reference of a rendered object.
func controlledBy(t require.TestingT, obj client.Object, kind, name string) {
	ref := metav1.GetControllerOf(obj)
	require.NotNil(t, ref, "%s has no controller", obj.GetName())
	assert.Equal(t, kind, ref.Kind)
	assert.Equal(t, name, ref.Name)
	assert.True(t, *ref.BlockOwnerDeletion)
}

// SPEC e2e 1, 2: a trench creates its NSP, IPAM, their services and its ConfigMap, and becomes
// Ready once its StatefulSets are.
func TestTrench_createsItsObjects(t *testing.T) {
	create(t, cr("Trench", "t1", "", `{}`))
	eventually(t, func(c *assert.CollectT) {
		for _, name := range []string{"nsp-t1", "ipam-t1"} {
			controlledBy(c, get(c, &appsv1.StatefulSet{}, name), "Trench", "t1")
		}
		for _, name := range []string{"nsp-service-t1", "ipam-service-t1"} {
			controlledBy(c, get(c, &corev1.Service{}, name), "Trench", "t1")
		}
		cm := get(c, &corev1.ConfigMap{}, "meridio-configuration-t1")
		controlledBy(c, cm, "Trench", "t1")
		assert.Equal(c, "items: []\n", cm.Data["flows"])
		assert.Len(c, cm.Data, 7)
	}, "trench objects")
	tr := get(t, &meridiov1.Trench{}, "t1")
	assert.Equal(t, meridiov1.Dualstack, tr.Spec.IPFamily)
	eventually(t, func(c *assert.CollectT) {
		requireCondition(c, get(c, &meridiov1.Trench{}, "t1"), meta.ReconcilingCondition, metav1.ConditionTrue, meta.ProgressingReason)
	}, "trench progressing while its StatefulSets are not ready")

	markStatefulSetReady(t, "nsp-t1")
	markStatefulSetReady(t, "ipam-t1")
	eventually(t, func(c *assert.CollectT) {
		tr := get(c, &meridiov1.Trench{}, "t1")
		requireCondition(c, tr, meta.ReadyCondition, metav1.ConditionTrue, meta.SucceededReason)
		assert.Nil(c, findCondition(tr, meta.ReconcilingCondition))
	}, "trench ready")
}

// The sink's answer for an object it has just created (the API server's response to the create,
// standing in for a cache that has not seen it yet) carries the object's kind, as the cache's
// objects do: status reads workloads by kind, and a StatefulSet read without it would look ready.
func TestSink_liveRightAfterCreate(t *testing.T) {
	ctx := context.Background()
	trench := "no-such-trench" // so that no reconcile touches the object
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "live-after-create",
			Labels:      map[string]string{render.LabelManagedBy: render.ManagedByValue, render.LabelTrench: trench},
			Annotations: map[string]string{render.AnnotationHash: "h1"}},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}},
	}
	svc.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Service"))
	res := &render.Result{Namespace: ns, Trench: trench, Items: []render.Item{
		{Object: svc, Owner: render.Owner{Kind: "Trench", Name: trench, UID: "6a1c52a4-0000-4000-8000-000000000001"}}}}
	_, err := sink.Deliver(ctx, res)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Delete(ctx, svc) })
	live, err := sink.Live(ctx, svc)
	require.NoError(t, err)
	require.NotNil(t, live)
	assert.Equal(t, "Service", live["kind"])
	assert.Equal(t, "v1", live["apiVersion"])
}

// SPEC e2e 9, 13, 18: an attractor creates the front-ends, the VLAN NSE and the PDB; a conduit
// creates the proxy; replicas follow the attractor; status follows the workloads.
func TestAttractorAndConduit_createWorkloads(t *testing.T) {
	create(t, trenchSet("t2")...)
	eventually(t, func(c *assert.CollectT) {
		controlledBy(c, get(c, &appsv1.Deployment{}, "nse-vlan-a-t2"), "Attractor", "a-t2")
		controlledBy(c, get(c, &appsv1.Deployment{}, "stateless-lb-frontend-a-t2"), "Attractor", "a-t2")
		controlledBy(c, get(c, &policyv1.PodDisruptionBudget{}, "pdb-a-t2"), "Attractor", "a-t2")
		controlledBy(c, get(c, &appsv1.DaemonSet{}, "proxy-c-t2"), "Conduit", "c-t2")
		cm := get(c, &corev1.ConfigMap{}, "meridio-configuration-t2")
		assert.Equal(c, []string{"a-t2"}, configItems(cm, "attractors"))
		assert.Equal(c, []string{"c-t2"}, configItems(cm, "conduits"))
	}, "attractor and conduit workloads")
	for _, o := range []meridiov1.Object{&meridiov1.Attractor{}, &meridiov1.Gateway{}, &meridiov1.Vip{}, &meridiov1.Conduit{}, &meridiov1.Stream{}, &meridiov1.Flow{}} {
		name := map[string]string{"*v1alpha1.Attractor": "a-t2", "*v1alpha1.Gateway": "g-t2", "*v1alpha1.Vip": "v-t2", "*v1alpha1.Conduit": "c-t2", "*v1alpha1.Stream": "s-t2", "*v1alpha1.Flow": "f-t2"}[fmt.Sprintf("%T", o)]
		eventually(t, func(c *assert.CollectT) {
			got := get(c, o.(client.Object), name)
			require.Len(c, got.GetOwnerReferences(), 1, "adopted by the trench")
			ref := got.GetOwnerReferences()[0]
			assert.Equal(c, []any{"Trench", "t2", false}, []any{ref.Kind, ref.Name, ref.Controller != nil && *ref.Controller})
		}, name+" adopted")
	}

	update(t, &meridiov1.Attractor{}, "a-t2", func(a *meridiov1.Attractor) { a.Spec.Replicas = new(int32(2)) })
	eventually(t, func(c *assert.CollectT) {
		assert.Equal(c, int32(2), *get(c, &appsv1.Deployment{}, "stateless-lb-frontend-a-t2").Spec.Replicas)
	}, "replicas follow the attractor")

	eventually(t, func(c *assert.CollectT) {
		requireCondition(c, get(c, &meridiov1.Attractor{}, "a-t2"), meta.ReadyCondition, metav1.ConditionFalse, meta.ProgressingReason)
	}, "attractor progressing")
	markDeploymentReady(t, "nse-vlan-a-t2")
	markDeploymentReady(t, "stateless-lb-frontend-a-t2")
	markDaemonSetReady(t, "proxy-c-t2")
	eventually(t, func(c *assert.CollectT) {
		requireCondition(c, get(c, &meridiov1.Attractor{}, "a-t2"), meta.ReadyCondition, metav1.ConditionTrue, meta.SucceededReason)
		requireCondition(c, get(c, &meridiov1.Conduit{}, "c-t2"), meta.ReadyCondition, metav1.ConditionTrue, meta.SucceededReason)
		for _, o := range []meridiov1.Object{get(c, &meridiov1.Gateway{}, "g-t2"), get(c, &meridiov1.Vip{}, "v-t2"), get(c, &meridiov1.Stream{}, "s-t2"), get(c, &meridiov1.Flow{}, "f-t2")} {
			requireCondition(c, o, meta.ReadyCondition, metav1.ConditionTrue, meta.SucceededReason)
		}
	}, "attractor, conduit and configuration resources ready")

	// A workload that stops being ready takes its resource with it.
	d := get(t, &appsv1.Deployment{}, "nse-vlan-a-t2")
	d.Status.ReadyReplicas, d.Status.AvailableReplicas = 0, 0
	require.NoError(t, c.Status().Update(context.Background(), d))
	eventually(t, func(c *assert.CollectT) {
		requireCondition(c, get(c, &meridiov1.Attractor{}, "a-t2"), meta.ReadyCondition, metav1.ConditionFalse, meta.ProgressingReason)
	}, "attractor not ready again")
}

func findCondition(o meridiov1.Object, typ string) *metav1.Condition {
	for i, c := range o.MeridioStatus().Conditions {
		if c.Type == typ {
			return &o.MeridioStatus().Conditions[i]
		}
	}
	return nil
}
