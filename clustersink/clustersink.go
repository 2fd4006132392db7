// Package clustersink delivers rendered objects to the cluster the operator runs in: it applies
// with server-side apply only the objects whose live state differs from the render, and deletes
// the objects of a trench that are no longer rendered.
package clustersink

import (
	"cmp"
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/util/csaupgrade"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/delivery"
	"github.com/meridio-operator/meridio-operator/internal/livestate"
	"github.com/meridio-operator/meridio-operator/internal/memo"
	"github.com/meridio-operator/meridio-operator/render"
)

// IndexTrench is the cache index of the rendered objects by the trench they belong to: pruning
// a trench then reads its own objects, not every object of the namespace.
const IndexTrench = "meridio.trench"

// New returns a sink for the manager's cluster, which indexes the cache by IndexTrench.
// The sink's memo is reported as meridio_operator_memo_objects{memo="sink"}.
func New(mgr manager.Manager) *Sink {
	s := &Sink{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), indexer: mgr.GetFieldIndexer()}
	memo.MustRegister(metrics.Registry, "sink", &s.written)
	return s
}

// indexByTrench adds IndexTrench to the informers of the managed kinds, once. It is done at the
// first prune, once the manager runs, rather than in New: an informer created before the
// manager starts makes it wait for that informer's sync by polling, 100 ms at every start.
func (s *Sink) indexByTrench(ctx context.Context) error {
	s.indexMu.Lock()
	defer s.indexMu.Unlock()
	for _, obj := range render.Kinds()[s.indexedKinds:] {
		if err := s.indexer.IndexField(ctx, obj, IndexTrench, trenchOf); err != nil {
			return fmt.Errorf("index %T by trench: %w", obj, err)
		}
		s.indexedKinds++
	}
	return nil
}

// trenchOf is the IndexTrench value of a rendered object: its trench, if it is ours.
func trenchOf(obj client.Object) []string {
	l := obj.GetLabels()
	if l[render.LabelManagedBy] != render.ManagedByValue || l[render.LabelTrench] == "" {
		return nil
	}
	return []string{l[render.LabelTrench]}
}

// FieldOwner is the field manager of every apply.
const FieldOwner = "meridio-operator"

// Sink applies and prunes through a client whose reads come from the manager's cache. It
// implements delivery.Sink.
type Sink struct {
	// Client reads through the manager's cache and writes to the API server.
	Client client.Client
	// APIReader reads from the API server itself, for the managed fields the cache leaves out
	// (nil: Client).
	APIReader client.Reader
	// indexer indexes the cache by trench (IndexTrench), when it is the manager's (nil: the
	// objects of a trench are found by their labels).
	indexer client.FieldIndexer
	// indexedKinds counts the ManagedObjects whose informers indexByTrench has indexed.
	indexMu      sync.Mutex
	indexedKinds int
	// upgraded holds the objects (namespace/ID) whose managed fields hold no Update entry of
	// ours any more, so that their applies skip the read of upgradeManagedFields.
	upgraded sync.Map
	// written remembers the applies and deletions, so that a cache lagging behind them does
	// not cause the same write twice.
	written memo.Memo

	// fresh holds the objects the API server returned for recent applies, by namespace and ID,
	// until the cache has caught up with them: Live answers from them meanwhile.
	mu    sync.Mutex
	fresh map[string]freshObject
	swept time.Time // when fresh was last rid of expired responses
}

// freshObject is an apply response and the resourceVersion the object had before the apply
// ("" when the apply created it).
type freshObject struct {
	before string
	obj    client.Object
	at     time.Time
}

// freshFor bounds how long an apply response stands in for a cache that has not seen it: a
// cache is behind by milliseconds, and an object deleted by someone else right after our
// apply must not be taken for present for long.
const freshFor = 5 * time.Second

var (
	_ delivery.Sink     = (*Sink)(nil)
	_ delivery.Observer = (*Sink)(nil)
)

// Deliver makes every rendered object of res live, writing only those that differ from the
// live state, then deletes the trench's objects that are no longer rendered.
func (s *Sink) Deliver(ctx context.Context, res *render.Result) (delivery.Result, error) {
	// The cluster has no revision to name beyond each object's own resourceVersion.
	var out delivery.Result
	keep := map[string]bool{}
	for _, it := range res.Items {
		keep[render.ID(it.Object)] = true
	}
	// The objects of a trench are independent: they are applied concurrently.
	changed := make([]bool, len(res.Items))
	errs := make([]error, len(res.Items))
	var wg sync.WaitGroup
	sem := make(chan struct{}, applyConcurrency)
	for i, it := range res.Items {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			changed[i], errs[i] = s.apply(ctx, res, it)
		}()
	}
	wg.Wait()
	for i, it := range res.Items {
		if changed[i] {
			out.Changed = append(out.Changed, render.ID(it.Object))
		}
	}
	if err := kerrors.NewAggregate(errs); err != nil {
		// Pruning after a failed apply could remove what the failed objects still need.
		return out, err
	}
	pruned, err := s.prune(ctx, res.Namespace, res.Trench, keep)
	out.Removed = pruned
	return out, err
}

// applyConcurrency bounds the applies of one trench in flight at once.
const applyConcurrency = 4

// apply server-side applies one rendered object unless its live state already matches; it
// tells whether it wrote.
func (s *Sink) apply(ctx context.Context, res *render.Result, it render.Item) (bool, error) {
	id := render.ID(it.Object)
	typed, err := owned(it)
	if err != nil {
		return false, err
	}
	// The map form costs two conversions: an object that is only created never needs it.
	desired := sync.OnceValues(func() (map[string]any, error) { return asApplied(typed) })
	// Our own recent write stands in for a cache that has not seen it (a trench reconciled
	// again right after its objects were created).
	live, err := s.liveObject(ctx, it.Object)
	if err != nil {
		return false, err
	}
	liveRV := ""
	if live != nil {
		liveRV = live.GetResourceVersion()
	}
	key := memo.Key(res.Namespace, res.Trench, id)
	// The memo keeps what identifies the write, not the object: the render's content hash and
	// the owner it is applied for. An object at a version our own writes of this render led
	// to, or at the one the first of them was decided on (a cache behind), needs no comparison.
	written := it.Object.GetAnnotations()[render.AnnotationHash] + "/" + string(it.Owner.UID)
	if s.written.Repeats(key, "apply", liveRV, written) {
		return false, nil
	}
	if live != nil && live.GetDeletionTimestamp() == nil {
		same, err := covered(live, desired)
		if err != nil || same {
			return false, err
		}
	}
	objKey := res.Namespace + "/" + id
	live, upgraded, err := s.write(ctx, objKey, typed, desired, liveRV == "")
	if upgraded != "" {
		// The managed fields were upgraded first: a cache that shows that version is behind
		// our own writes too.
		s.written.Record(key, "upgrade", liveRV, upgraded, true)
	}
	if err != nil {
		return false, fmt.Errorf("apply %s: %w", id, err)
	}
	s.written.Record(key, "apply", cmp.Or(upgraded, liveRV), live.GetResourceVersion(), written)
	// The response stands in for the cache, which holds objects without their managed fields
	// too (and they would be most of its size).
	live.SetManagedFields(nil)
	s.remember(objKey, liveRV, live)
	return true, nil
}

// createsFirst tells the kinds that are created with a plain create when absent rather than
// with a server-side apply: a create costs the API server about half as much (an apply reads
// the object first and converts it more often), which is most of a start with many trenches.
// ConfigMaps are left out: Flow edits change them often, and each first change of a created
// object needs one more write (see write).
func createsFirst(obj client.Object) bool {
	_, cm := obj.(*corev1.ConfigMap)
	return !cm
}

// write makes the object (namespace/ID key) live: when it is absent and of a kind that
// createsFirst, a create of the typed object (as protobuf, which costs the API server less than
// JSON); else, or if it exists after all, a server-side apply of desired, the same object as a
// map. It returns the object as the API server answered. A
// created object's fields belong to an Update entry of our field manager, which an apply would
// not remove when the render drops them; so before applying to an object of a kind that
// createsFirst, such an entry is merged into our apply entry (client-go's csaupgrade, the
// migration kubectl does), once per object; upgraded is the resourceVersion that merge led to
// ("" when there was none).
func (s *Sink) write(ctx context.Context, key string, typed client.Object, desired func() (map[string]any, error), absent bool) (live client.Object, upgraded string, err error) {
	if createsFirst(typed) && absent {
		gvk := typed.GetObjectKind().GroupVersionKind()
		err := s.Client.Create(ctx, typed, client.FieldOwner(FieldOwner))
		// A typed response comes without its kind, which status needs to read the object.
		typed.GetObjectKind().SetGroupVersionKind(gvk)
		if err == nil {
			s.upgraded.Delete(key) // a new object, with a new Update entry
		}
		if !apierrors.IsAlreadyExists(err) {
			return typed, "", err
		}
		// Created meanwhile (a cache behind, or someone else): apply over it.
	}
	m, err := desired()
	if err != nil {
		return nil, "", err
	}
	u := &unstructured.Unstructured{Object: m}
	if createsFirst(typed) {
		if upgraded, err = s.upgradeManagedFields(ctx, key, u); err != nil {
			return u, "", err
		}
	}
	return u, upgraded, s.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.ForceOwnership, client.FieldOwner(FieldOwner))
}

// upgradeManagedFields moves the fields an Update entry of our field manager owns (the object
// was created, not applied) into our apply entry, and returns the resourceVersion that led to;
// it writes nothing, and returns "", when there is no such entry.
func (s *Sink) upgradeManagedFields(ctx context.Context, key string, u *unstructured.Unstructured) (string, error) {
	if _, done := s.upgraded.Load(key); done {
		return "", nil
	}
	if s.APIReader == nil {
		// The cache holds no managed fields: reading them there would find nothing to merge.
		return "", fmt.Errorf("read managed fields: the sink has no APIReader")
	}
	live := &metav1.PartialObjectMetadata{}
	live.SetGroupVersionKind(u.GroupVersionKind())
	if err := s.APIReader.Get(ctx, client.ObjectKeyFromObject(u), live); apierrors.IsNotFound(err) {
		return "", nil
	} else if err != nil {
		return "", fmt.Errorf("read managed fields: %w", err)
	}
	patch, err := csaupgrade.UpgradeManagedFieldsPatch(live, sets.New(FieldOwner), FieldOwner)
	if err != nil {
		return "", err
	}
	if patch != nil {
		if err := s.Client.Patch(ctx, live, client.RawPatch(types.JSONPatchType, patch)); err != nil {
			return "", fmt.Errorf("upgrade managed fields: %w", err)
		}
	}
	// An object's managed fields need this once: later applies keep them in the apply entry.
	s.upgraded.Store(key, true)
	if patch == nil {
		return "", nil
	}
	return live.GetResourceVersion(), nil
}

// Remove deletes every object of the trench.
func (s *Sink) Remove(ctx context.Context, namespace, trench string) (delivery.Result, error) {
	pruned, err := s.prune(ctx, namespace, trench, nil)
	return delivery.Result{Removed: pruned}, err
}

// Trenches lists the trenches that have objects in the cluster.
func (s *Sink) Trenches(ctx context.Context) ([]types.NamespacedName, error) {
	seen := map[types.NamespacedName]bool{}
	for _, list := range render.KindLists() {
		if err := s.Client.List(ctx, list, client.MatchingLabels{render.LabelManagedBy: render.ManagedByValue}); err != nil {
			return nil, fmt.Errorf("list managed objects: %w", err)
		}
		items, err := render.Items(list)
		if err != nil {
			return nil, err
		}
		for _, o := range items {
			if t := o.GetLabels()[render.LabelTrench]; t != "" {
				seen[types.NamespacedName{Namespace: o.GetNamespace(), Name: t}] = true
			}
		}
	}
	out := make([]types.NamespacedName, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out, nil
}

// Landed is nil: every delivery is complete when Deliver returns.
func (s *Sink) Landed() <-chan event.GenericEvent { return nil }

// Live reads a rendered object from the cache, or from the response of the apply that wrote
// it while the cache has not seen that write yet.
func (s *Sink) Live(ctx context.Context, rendered client.Object) (map[string]any, error) {
	live, err := s.liveObject(ctx, rendered)
	if err != nil || live == nil {
		return nil, err
	}
	return livestate.AsMap(live)
}

// liveObject is Live's object as it is held: typed from the cache or a create, a map from an
// apply; nil when absent.
func (s *Sink) liveObject(ctx context.Context, rendered client.Object) (client.Object, error) {
	live, err := livestate.Get(ctx, s.Client, rendered)
	if err != nil {
		return nil, err
	}
	rv := ""
	if live != nil {
		rv = live.GetResourceVersion()
	}
	key := rendered.GetNamespace() + "/" + render.ID(rendered)
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.fresh[key]
	if !ok {
		return live, nil
	}
	if rv == f.before && time.Since(f.at) < freshFor {
		return f.obj, nil // the cache is behind the write
	}
	delete(s.fresh, key) // the cache has seen the write, or something later
	return live, nil
}

// Observed is told of every rendered object the cache receives: an apply response it kept for
// a cache that had not seen the apply is dropped once the cache has.
func (s *Sink) Observed(obj client.Object) {
	key := obj.GetNamespace() + "/" + render.ID(obj)
	s.mu.Lock()
	defer s.mu.Unlock()
	if f, ok := s.fresh[key]; ok && f.before != obj.GetResourceVersion() {
		delete(s.fresh, key)
	}
}

// remember keeps an apply response for Live.
func (s *Sink) remember(key, before string, obj client.Object) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fresh == nil {
		s.fresh = map[string]freshObject{}
	}
	now := time.Now()
	if now.Sub(s.swept) >= freshFor {
		s.swept = now
		for k, f := range s.fresh {
			if now.Sub(f.at) >= freshFor {
				delete(s.fresh, k)
			}
		}
	}
	s.fresh[key] = freshObject{before: before, obj: obj, at: now}
}

// owned is the rendered object with a controller reference to its resource, as delivered.
func owned(it render.Item) (client.Object, error) {
	uid := it.Owner.UID
	if uid == "" {
		return nil, fmt.Errorf("apply %s: no UID for owner %s/%s", render.ID(it.Object), it.Owner.Kind, it.Owner.Name)
	}
	obj := it.Object.DeepCopyObject().(client.Object)
	obj.SetOwnerReferences([]metav1.OwnerReference{{
		APIVersion:         meridiov1.GroupVersion.String(),
		Kind:               it.Owner.Kind,
		Name:               it.Owner.Name,
		UID:                uid,
		Controller:         ptr.To(true),
		BlockOwnerDeletion: ptr.To(true),
	}})
	return obj, nil
}

// Applied is a rendered item as the sink applies it: with its controller reference, as the
// normalised map the apply sends (what a test needs to ask the API server what the apply does).
func Applied(it render.Item) (map[string]any, error) {
	obj, err := owned(it)
	if err != nil {
		return nil, err
	}
	return asApplied(obj)
}

// asApplied is obj as the normalised map an apply sends and comparisons use.
func asApplied(obj client.Object) (map[string]any, error) {
	m, err := render.Clean(obj)
	if err != nil {
		return nil, err
	}
	n, err := normalize(m)
	if err != nil {
		return nil, err
	}
	return n.(map[string]any), nil
}

// covered tells whether applying desired over live would change nothing.
func covered(live client.Object, desired func() (map[string]any, error)) (bool, error) {
	d, err := desired()
	if err != nil {
		return false, err
	}
	m, err := livestate.AsMap(live)
	if err != nil {
		return false, err
	}
	n, err := normalize(m)
	if err != nil {
		return false, err
	}
	apiVersion, _ := d["apiVersion"].(string)
	kind, _ := d["kind"].(string)
	sh, err := shapeOf(schema.FromAPIVersionAndKind(apiVersion, kind))
	if err != nil {
		return false, err
	}
	return sh.covers(d, n), nil
}

// prune deletes the objects labelled as the trench's that keep does not name ("Kind/name").
func (s *Sink) prune(ctx context.Context, namespace, trench string, keep map[string]bool) ([]string, error) {
	var pruned []string
	var errs []error
	// The memo keeps what is rendered or still listed (a deletion the cache has not seen yet).
	remembered := map[string]bool{}
	for id := range keep {
		remembered[memo.Key(namespace, trench, id)] = true
	}
	var sel client.ListOption = client.MatchingLabels{render.LabelManagedBy: render.ManagedByValue, render.LabelTrench: trench}
	if s.indexer != nil {
		if err := s.indexByTrench(ctx); err != nil {
			return nil, err
		}
		sel = client.MatchingFields{IndexTrench: trench}
	}
	for _, list := range render.KindLists() {
		if err := s.Client.List(ctx, list, client.InNamespace(namespace), sel); err != nil {
			errs = append(errs, fmt.Errorf("list for pruning: %w", err))
			continue
		}
		items, err := render.Items(list)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, obj := range items {
			id := render.ID(obj)
			key := memo.Key(namespace, trench, id)
			remembered[key] = true
			if keep[id] || obj.GetDeletionTimestamp() != nil || s.written.Repeats(key, "delete", obj.GetResourceVersion(), obj.GetUID()) {
				continue
			}
			if err := s.Client.Delete(ctx, obj, client.PropagationPolicy(metav1.DeletePropagationBackground)); client.IgnoreNotFound(err) != nil {
				errs = append(errs, fmt.Errorf("prune %s: %w", id, err))
				continue
			}
			s.written.Forget(key)
			s.upgraded.Delete(namespace + "/" + id)
			s.written.Record(key, "delete", obj.GetResourceVersion(), obj.GetResourceVersion(), obj.GetUID())
			s.mu.Lock()
			delete(s.fresh, namespace+"/"+id)
			s.mu.Unlock()
			pruned = append(pruned, id)
		}
	}
	if len(errs) == 0 {
		s.written.ForgetExcept(memo.Key(namespace, trench, ""), remembered)
	}
	sort.Strings(pruned)
	return pruned, kerrors.NewAggregate(errs)
}
