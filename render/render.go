package render

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
)

// Labels and annotations put on every rendered object.
const (
	LabelManagedBy      = "app.kubernetes.io/managed-by"
	LabelPartOf         = "app.kubernetes.io/part-of"
	LabelTrench         = "meridio.nordix.org/trench"
	ManagedByValue      = "meridio-operator"
	AnnotationHash      = "meridio.nordix.org/content-hash"
	annotationTemplates = meridiov1.ResourceTemplateAnnotation
)

// Reasons of the problems a render reports.
const (
	ReasonResourceTemplateNotFound = "ResourceTemplateNotFound"
	ReasonInvalidSpec              = "InvalidSpec"
	// ReasonConfigurationTooLarge: the trench's ConfigMap would be larger than the API server
	// accepts; the trench is not delivered at all (a partial configuration would be wrong).
	ReasonConfigurationTooLarge = "ConfigurationTooLarge"
)

// MaxConfigMapSize is the API server's limit on the data of a ConfigMap (keys and values).
const MaxConfigMapSize = 1 << 20

// ConfigMapSize is what the API server counts against MaxConfigMapSize.
func ConfigMapSize(cm *corev1.ConfigMap) int {
	n := 0
	for k, v := range cm.Data {
		n += len(k) + len(v)
	}
	for k, v := range cm.BinaryData {
		n += len(k) + len(v)
	}
	return n
}

// Undeliverable is the problem that keeps the whole render from being delivered (nil if none):
// delivering it would fail at every retry, and delivering part of it would leave the workloads
// with a configuration that is not the resources'.
func (r *Result) Undeliverable() *Problem {
	for i, p := range r.Problems {
		if p.Reason == ReasonConfigurationTooLarge {
			return &r.Problems[i]
		}
	}
	return nil
}

// Owner names the Meridio resource an object is rendered for.
type Owner struct {
	Kind string
	Name string
	// UID is the resource's UID ("" offline); cluster delivery makes it the object's owner.
	UID types.UID
}

// Source is one resource a render was made from, as commit messages and provenance name it.
type Source struct {
	Kind       string    `json:"kind"`
	Name       string    `json:"name"`
	UID        types.UID `json:"uid,omitempty"`
	Generation int64     `json:"generation"`
}

// String is "Kind/name generation N".
func (s Source) String() string {
	return fmt.Sprintf("%s/%s generation %d", s.Kind, s.Name, s.Generation)
}

// Item is one rendered object and the resource it belongs to (which owns it in cluster mode).
type Item struct {
	Object client.Object
	Owner  Owner
}

// Problem is something wrong with a resource that did not stop the render.
type Problem struct {
	Owner   Owner
	Reason  string
	Message string
}

// Result is the rendered workload set of one trench.
type Result struct {
	// Namespace and Trench identify the trench.
	Namespace string
	Trench    string
	// Items are sorted by kind (in apply order) and name.
	Items []Item
	// Problems are sorted by owner.
	Problems []Problem
	// Configuration is the trench's ConfigMap (one of Items): it carries the configuration of
	// the gateways, vips, streams and flows, whose status follows it.
	Configuration client.Object
	// Sources are the trench and every resource of it, in snapshot order.
	Sources []Source
	// SettingsDigest names the operator settings the render was made with.
	SettingsDigest string
}

// Render computes every object of the trench in s, whose lists must be sorted by name (as
// snapshot.Load and Snapshot.Sort leave them). Resources are rendered as they are: defaults are
// the API server's and the webhook's business.
func Render(s *meridiov1.Snapshot, set Settings) (*Result, error) {
	if s.Trench == nil {
		return nil, fmt.Errorf("render: the snapshot has no trench")
	}
	r := &renderer{set: &set, result: &Result{Namespace: s.Trench.Namespace, Trench: s.Trench.Name, SettingsDigest: set.Digest()}}
	for _, o := range append([]meridiov1.Validated{s.Trench}, s.Children()...) {
		own := OwnerOf(o)
		r.result.Sources = append(r.result.Sources, Source{Kind: own.Kind, Name: own.Name, UID: o.GetUID(), Generation: o.GetGeneration()})
	}
	if err := r.trenchObjects(s); err != nil {
		return nil, fmt.Errorf("render trench %s/%s: %w", s.Trench.Namespace, s.Trench.Name, err)
	}
	for i := range s.Attractors {
		r.attractorObjects(&s.Attractors[i], s.Trench)
	}
	for i := range s.Conduits {
		r.add(&s.Conduits[i], r.proxy(&s.Conduits[i], s.Trench))
	}
	r.dropInvalidNames()
	for _, it := range r.result.Items {
		if err := setHash(it.Object); err != nil {
			return nil, fmt.Errorf("render trench %s/%s: %w", s.Trench.Namespace, s.Trench.Name, err)
		}
	}
	slices.SortStableFunc(r.result.Problems, func(a, b Problem) int { return compareOwners(a.Owner, b.Owner) })
	slices.SortFunc(r.result.Items, func(a, b Item) int {
		return cmp.Or(cmp.Compare(kindRank(a.Object), kindRank(b.Object)), cmp.Compare(a.Object.GetName(), b.Object.GetName()))
	})
	return r.result, nil
}

func kindRank(o client.Object) int {
	return slices.Index(kindOrder, o.GetObjectKind().GroupVersionKind().Kind)
}

// renderer accumulates the result of one Render.
type renderer struct {
	set    *Settings
	result *Result
}

// name is the name of a rendered object: prefix, what it is, and whose it is.
func (s *Settings) name(what, owner string) string { return s.NamePrefix + what + "-" + owner }

// OwnerOf returns the kind and name of a Meridio resource.
func OwnerOf(o meridiov1.Object) Owner {
	kind := "Unknown"
	switch o.(type) {
	case *meridiov1.Trench:
		kind = "Trench"
	case *meridiov1.Attractor:
		kind = "Attractor"
	case *meridiov1.Conduit:
		kind = "Conduit"
	case *meridiov1.Gateway:
		kind = "Gateway"
	case *meridiov1.Vip:
		kind = "Vip"
	case *meridiov1.Stream:
		kind = "Stream"
	case *meridiov1.Flow:
		kind = "Flow"
	}
	return Owner{Kind: kind, Name: o.GetName(), UID: o.GetUID()}
}

// add records obj as rendered for owner, with the common labels, and the owner's resource
// template annotation on workloads (for visibility, as the reference does).
func (r *renderer) add(owner meridiov1.Object, obj client.Object) {
	labels := obj.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelManagedBy] = ManagedByValue
	labels[LabelPartOf] = r.result.Trench
	labels[LabelTrench] = r.result.Trench
	obj.SetLabels(labels)
	if tmpl := owner.GetAnnotations()[annotationTemplates]; tmpl != "" {
		switch obj.(type) {
		case *appsv1.Deployment, *appsv1.StatefulSet, *appsv1.DaemonSet:
			obj.SetAnnotations(map[string]string{annotationTemplates: tmpl})
		}
	}
	r.result.Items = append(r.result.Items, Item{Object: obj, Owner: OwnerOf(owner)})
}

// problem records something wrong with owner; the same problem is recorded once.
func (r *renderer) problem(owner meridiov1.Object, reason, msg string) {
	p := Problem{Owner: OwnerOf(owner), Reason: reason, Message: msg}
	if !slices.Contains(r.result.Problems, p) {
		r.result.Problems = append(r.result.Problems, p)
	}
}

// resources applies the resource template the owner's annotation names to a container. An
// unknown name leaves the container without requirements and is reported.
func (r *renderer) resources(c *corev1.Container, owner meridiov1.Object) {
	name := owner.GetAnnotations()[annotationTemplates]
	if name == "" {
		return
	}
	req, ok := r.set.ResourceTemplates[c.Name][name]
	if !ok {
		r.problem(owner, ReasonResourceTemplateNotFound, fmt.Sprintf("resource template %q not found for container %s (known: %v)", name, c.Name, r.set.TemplateNames(c.Name)))
		return
	}
	c.Resources = *req.DeepCopy()
}

// setHash annotates obj with a hash of its content, so that a live object can be matched to
// the render that produced it.
func setHash(obj client.Object) error {
	data, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	ann := obj.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[AnnotationHash] = hex.EncodeToString(sum[:16])
	obj.SetAnnotations(ann)
	return nil
}

func itoa(i int) string { return strconv.Itoa(i) }
