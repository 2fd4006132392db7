package render

import (
	"reflect"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// kinds are the kinds a trench's workload set is made of, in the order a render lists them
// (and a sink applies them): configuration and services before the workloads that read them.
var kinds = []struct {
	object func() client.Object
	list   func() client.ObjectList
}{
	{func() client.Object { return &corev1.ConfigMap{} }, func() client.ObjectList { return &corev1.ConfigMapList{} }},
	{func() client.Object { return &corev1.Service{} }, func() client.ObjectList { return &corev1.ServiceList{} }},
	{func() client.Object { return &appsv1.StatefulSet{} }, func() client.ObjectList { return &appsv1.StatefulSetList{} }},
	{func() client.Object { return &appsv1.Deployment{} }, func() client.ObjectList { return &appsv1.DeploymentList{} }},
	{func() client.Object { return &appsv1.DaemonSet{} }, func() client.ObjectList { return &appsv1.DaemonSetList{} }},
	{func() client.Object { return &policyv1.PodDisruptionBudget{} }, func() client.ObjectList { return &policyv1.PodDisruptionBudgetList{} }},
}

// kindOrder names the kinds in their order.
var kindOrder = func() []string {
	out := make([]string, len(kinds))
	for i, k := range kinds {
		out[i] = reflect.TypeOf(k.object()).Elem().Name()
	}
	return out
}()

// Kinds returns one empty object of each kind a render produces, as objects to watch.
func Kinds() []client.Object {
	out := make([]client.Object, len(kinds))
	for i, k := range kinds {
		out[i] = k.object()
	}
	return out
}

// KindLists returns one empty list of each kind a render produces, as lists to read.
func KindLists() []client.ObjectList {
	out := make([]client.ObjectList, len(kinds))
	for i, k := range kinds {
		out[i] = k.list()
	}
	return out
}

// ID is how reports, keep sets and status name a rendered object: "Kind/name".
func ID(obj client.Object) string {
	kind := obj.GetObjectKind().GroupVersionKind().Kind
	if kind == "" {
		kind = reflect.TypeOf(obj).Elem().Name()
	}
	return kind + "/" + obj.GetName()
}

// Items returns the objects of a list.
func Items(list client.ObjectList) ([]client.Object, error) {
	objs, err := apimeta.ExtractList(list)
	if err != nil {
		return nil, err
	}
	out := make([]client.Object, 0, len(objs))
	for _, o := range objs {
		out = append(out, o.(client.Object))
	}
	return out, nil
}
