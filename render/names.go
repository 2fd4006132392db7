package render

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
)

// ReasonInvalidName: an object rendered for the resource would get a name or a label value the
// API server refuses, so none of the resource's objects is rendered.
const ReasonInvalidName = "InvalidName"

// statefulSetNameLimit leaves room in a 63-character label value for the "-" and the hash of
// up to 10 characters that make the controller-revision-hash label of a StatefulSet's pods.
// Deployments and DaemonSets need no such room: the API server shortens the generated names
// of their pods and ReplicaSets, and their hash labels hold the hash alone.
const statefulSetNameLimit = validation.LabelValueMaxLength - 11

// nameErrors lists what the API server would refuse in the names and label values of obj, each
// naming the object and the limit it breaks.
func nameErrors(obj client.Object) []string {
	kind := obj.GetObjectKind().GroupVersionKind().Kind
	name := obj.GetName()
	var msgs []string
	add := func(what string, problems []string) {
		for _, p := range problems {
			msgs = append(msgs, fmt.Sprintf("%s %s: %s: %s", kind, name, what, p))
		}
	}
	switch o := obj.(type) {
	case *corev1.Service:
		add("name", validation.IsDNS1035Label(name))
		add("selector", labelValueErrors(o.Spec.Selector))
	case *appsv1.StatefulSet:
		add("name", validation.IsDNS1123Label(name))
		if len(name) > statefulSetNameLimit {
			add("name", []string{fmt.Sprintf("must be no more than %d characters, to leave room for the controller-revision-hash label of its pods", statefulSetNameLimit)})
		}
		add("pod labels", labelValueErrors(o.Spec.Template.Labels))
	case *appsv1.Deployment:
		add("name", validation.IsDNS1123Label(name))
		add("pod labels", labelValueErrors(o.Spec.Template.Labels))
	case *appsv1.DaemonSet:
		add("name", validation.IsDNS1123Label(name))
		add("pod labels", labelValueErrors(o.Spec.Template.Labels))
	case *policyv1.PodDisruptionBudget:
		add("name", validation.IsDNS1123Subdomain(name))
		add("selector", labelValueErrors(selectorLabels(o.Spec.Selector)))
	default:
		add("name", validation.IsDNS1123Subdomain(name))
	}
	add("labels", labelValueErrors(obj.GetLabels()))
	return msgs
}

func selectorLabels(s *metav1.LabelSelector) map[string]string {
	if s == nil {
		return nil
	}
	return s.MatchLabels
}

// labelValueErrors checks label values in key order.
func labelValueErrors(labels map[string]string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		for _, p := range validation.IsValidLabelValue(labels[k]) {
			out = append(out, fmt.Sprintf("%s=%q: %s", k, labels[k], p))
		}
	}
	return out
}

// dropInvalidNames removes the objects of every owner one of whose objects has a name or label
// value the API server would refuse, and reports the owner instead, so that the rest of the
// trench still renders (unless the owner is the trench itself).
func (r *renderer) dropInvalidNames() {
	bad := map[Owner][]string{}
	for _, it := range r.result.Items {
		if msgs := nameErrors(it.Object); len(msgs) > 0 {
			bad[it.Owner] = append(bad[it.Owner], msgs...)
		}
	}
	if len(bad) == 0 {
		return
	}
	// Without the trench's own objects (its configuration and services) the others are of no
	// use: a trench that cannot be rendered renders nothing.
	trenchBad := false
	for o := range bad {
		trenchBad = trenchBad || o.Kind == "Trench"
	}
	r.result.Items = slices.DeleteFunc(r.result.Items, func(it Item) bool { return trenchBad || bad[it.Owner] != nil })
	if trenchBad {
		r.result.Configuration = nil
	}
	for _, owner := range slices.SortedFunc(maps.Keys(bad), compareOwners) {
		msg := "cannot be rendered: " + strings.Join(bad[owner], "; ")
		r.result.Problems = append(r.result.Problems, Problem{Owner: owner, Reason: ReasonInvalidName, Message: msg})
	}
}

func compareOwners(a, b Owner) int {
	return strings.Compare(a.Kind+"/"+a.Name, b.Kind+"/"+b.Name)
}

// NameErrors tells whether the objects rendered for a Trench, Attractor or Conduit (with the
// name prefix of set) would get names or label values the API server refuses; the admission
// webhooks and the offline render refuse such a resource with these errors, which name the
// rendered object and the limit. Other kinds render no objects of their own and give none.
func NameErrors(obj meridiov1.Object, set Settings) field.ErrorList {
	trench := &meridiov1.Trench{}
	trench.Name, trench.Namespace = obj.GetLabels()[meridiov1.TrenchLabel], obj.GetNamespace()
	var s *meridiov1.Snapshot
	switch o := obj.(type) {
	case *meridiov1.Trench:
		s = &meridiov1.Snapshot{Trench: o}
	case *meridiov1.Attractor:
		s = &meridiov1.Snapshot{Trench: trench, Attractors: []meridiov1.Attractor{*o}}
	case *meridiov1.Conduit:
		s = &meridiov1.Snapshot{Trench: trench, Conduits: []meridiov1.Conduit{*o}}
	}
	if s == nil || s.Trench.Name == "" {
		return nil // other kinds; a missing trench label is refused by the kind's own rules
	}
	res, err := Render(s, set)
	if err != nil {
		return field.ErrorList{field.InternalError(nil, err)}
	}
	own := OwnerOf(obj)
	var errs field.ErrorList
	for _, p := range res.Problems {
		if p.Reason == ReasonInvalidName && p.Owner.Kind == own.Kind && p.Owner.Name == own.Name {
			errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), obj.GetName(), p.Message))
		}
	}
	return errs
}

// ConfigurationErrors refuses a resource whose trench's ConfigMap, with the resource stored as
// it is, would be larger than the API server accepts (s is the trench before the change). The
// admission webhooks and the offline render call it.
func ConfigurationErrors(obj meridiov1.Validated, s *meridiov1.Snapshot, set Settings) field.ErrorList {
	if s == nil {
		return nil
	}
	after := s.With(obj)
	if after.Trench == nil {
		return nil // refused for its missing trench
	}
	cm, err := configMap(after, &set)
	if err != nil {
		return field.ErrorList{field.InternalError(nil, err)}
	}
	if size := ConfigMapSize(cm); size > MaxConfigMapSize {
		return field.ErrorList{field.Invalid(field.NewPath("spec"), field.OmitValueType{},
			fmt.Sprintf("the trench's configuration ConfigMap %s would hold %d bytes with this %s, over the API server's limit of %d bytes for a ConfigMap", cm.Name, size, OwnerOf(obj).Kind, MaxConfigMapSize))}
	}
	return nil
}
