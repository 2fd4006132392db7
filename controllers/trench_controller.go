package controllers

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/clustersink"
	"github.com/meridio-operator/meridio-operator/internal/memo"
	"github.com/meridio-operator/meridio-operator/internal/snapshot"
	"github.com/meridio-operator/meridio-operator/render"
)

// +kubebuilder:rbac:groups=meridio.nordix.org,resources=trenches;attractors;gateways;vips;conduits;streams;flows,verbs=get;list;watch;update;patch;delete,namespace=system
// +kubebuilder:rbac:groups=meridio.nordix.org,resources=trenches/status;attractors/status;gateways/status;vips/status;conduits/status;streams/status;flows/status,verbs=get;update;patch,namespace=system
// +kubebuilder:rbac:groups="",resources=configmaps;services,verbs=get;list;watch;create;update;patch;delete,namespace=system
// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets;daemonsets,verbs=get;list;watch;create;update;patch;delete,namespace=system
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;update;patch;delete,namespace=system
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch,namespace=system

// Sink delivers the rendered objects of a trench.
type Sink interface {
	// Apply makes the objects of res live (or committed) and removes the trench's objects that
	// are no longer rendered.
	Apply(ctx context.Context, res *render.Result, owners clustersink.Owners) (clustersink.Report, error)
	// Prune removes the trench's objects that keep ("Kind/name") does not name.
	Prune(ctx context.Context, namespace, trench string, keep map[string]bool) ([]string, error)
}

// TrenchReconciler renders and delivers the workload set of each trench, and reports the
// status of every Meridio resource from the live objects.
type TrenchReconciler struct {
	// Client reads from the manager's cache and writes to the API server.
	Client   client.Client
	Sink     Sink
	Settings render.Settings
	Recorder events.EventRecorder
	// MaxConcurrentReconciles is how many trenches are reconciled at once (default 4):
	// trenches share nothing but the read-only settings and the locked memo below.
	MaxConcurrentReconciles int

	// written remembers status and adoption patches, so that a cache lagging behind them does
	// not cause the same patch twice.
	written memo.Memo
}

// changed passes creations, deletions, and updates of the spec, labels or annotations (the
// resource-template annotation changes the render); status updates are not our business.
var changed = predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}, predicate.LabelChangedPredicate{})

// SetupWithManager watches the seven kinds and the rendered objects, each mapped to its trench.
func (r *TrenchReconciler) SetupWithManager(mgr ctrl.Manager) error {
	workers := r.MaxConcurrentReconciles
	if workers < 1 {
		workers = 4
	}
	b := ctrl.NewControllerManagedBy(mgr).
		Named("trench").
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		For(&meridiov1.Trench{}, builder.WithPredicates(changed))
	for _, o := range []client.Object{&meridiov1.Attractor{}, &meridiov1.Gateway{}, &meridiov1.Vip{}, &meridiov1.Conduit{}, &meridiov1.Stream{}, &meridiov1.Flow{}} {
		b = b.Watches(o, handler.EnqueueRequestsFromMapFunc(toTrench(meridiov1.TrenchLabel)), builder.WithPredicates(changed))
	}
	for _, o := range clustersink.ManagedObjects() {
		b = b.Watches(o, handler.EnqueueRequestsFromMapFunc(toTrench(render.LabelTrench)))
	}
	return b.Complete(r)
}

// toTrench maps an object to the trench its label names.
func toTrench(label string) handler.MapFunc {
	return func(_ context.Context, o client.Object) []reconcile.Request {
		t := o.GetLabels()[label]
		if t == "" {
			return nil
		}
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: o.GetNamespace(), Name: t}}}
	}
}

// Reconcile renders one trench, delivers it, and updates the status of its resources.
func (r *TrenchReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	log := ctrl.LoggerFrom(ctx)
	start := time.Now()
	defer func() {
		reconcileDuration.WithLabelValues(req.Namespace, req.Name).Observe(time.Since(start).Seconds())
	}()

	s, err := snapshot.Load(ctx, r.Client, req.Namespace, req.Name)
	if err != nil {
		return ctrl.Result{}, err
	}
	if s.Trench == nil || !s.Trench.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.reconcileDelete(ctx, req, s)
	}
	if err := r.adopt(ctx, s); err != nil {
		return ctrl.Result{}, err
	}
	before := copyResources(s)
	defer func() {
		retErr = kerrors.NewAggregate([]error{retErr, r.patchStatuses(ctx, before, resources(s))})
	}()

	renderStart := time.Now()
	res, err := render.Render(s, r.Settings)
	renderDuration.Observe(time.Since(renderStart).Seconds())
	if err != nil {
		return ctrl.Result{}, err
	}
	rep, applyErr := r.Sink.Apply(ctx, res, clustersink.OwnersOf(s))
	r.report(s.Trench, rep, applyErr)
	live, err := r.liveStates(ctx, res, rep.Live)
	if err != nil {
		return ctrl.Result{}, err
	}
	r.setStatuses(s, res, live, applyErr)
	log.V(1).Info("reconciled", "applied", len(rep.Applied), "pruned", len(rep.Pruned), "problems", len(res.Problems), "duration", time.Since(start))
	return ctrl.Result{}, applyErr
}

// adopt gives every resource of the trench a (non-controller) owner reference to the trench,
// as the reference operator does, so that deleting the trench deletes its resources.
func (r *TrenchReconciler) adopt(ctx context.Context, s *meridiov1.Snapshot) error {
	ref := metav1.OwnerReference{APIVersion: meridiov1.GroupVersion.String(), Kind: "Trench", Name: s.Trench.Name, UID: s.Trench.UID}
	for _, o := range s.Children() {
		if ownedByTrench(o, s.Trench.Name, s.Trench.UID) || r.written.Repeats(string(o.GetUID()), "adopt", o.GetResourceVersion(), ref) {
			continue
		}
		orig := o.DeepCopyObject().(client.Object)
		o.SetOwnerReferences(append(o.GetOwnerReferences(), ref))
		if err := r.Client.Patch(ctx, o, client.MergeFrom(orig)); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("adopt %s %s into trench %s: %w", kindOf(o), o.GetName(), s.Trench.Name, err)
		}
		r.written.Record(string(o.GetUID()), "adopt", orig.GetResourceVersion(), o.GetResourceVersion(), ref)
	}
	return nil
}

// ownedByTrench tells whether o has an owner reference to trench name with uid ("" for any).
func ownedByTrench(o metav1.Object, name string, uid types.UID) bool {
	for _, ref := range o.GetOwnerReferences() {
		if ref.Kind == "Trench" && ref.Name == name && (uid == "" || ref.UID == uid) {
			return true
		}
	}
	return false
}

// reconcileDelete cleans up after a trench that is gone: its rendered objects are pruned and
// the resources it had adopted are deleted (what the garbage collector does too, but it may be
// missing or slow). Resources it never adopted wait for it, reported as TrenchNotFound.
func (r *TrenchReconciler) reconcileDelete(ctx context.Context, req ctrl.Request, s *meridiov1.Snapshot) error {
	pruned, err := r.Sink.Prune(ctx, req.Namespace, req.Name, nil)
	objectsPruned.WithLabelValues(req.Namespace, req.Name).Add(float64(len(pruned)))
	if err != nil {
		return err
	}
	if len(pruned) > 0 {
		ctrl.LoggerFrom(ctx).Info("pruned the objects of a deleted trench", "objects", pruned)
	}
	if s.Trench != nil {
		return nil // being deleted: its resources go with it
	}
	before := copyResources(s)
	var errs []error
	for _, o := range s.Children() {
		if ownedByTrench(o, req.Name, "") {
			if err := r.Client.Delete(ctx, o); client.IgnoreNotFound(err) != nil {
				errs = append(errs, fmt.Errorf("delete %s %s of deleted trench %s: %w", kindOf(o), o.GetName(), req.Name, err))
			}
			continue
		}
		computeStatus(o.MeridioStatus(), statusInputs{generation: o.GetGeneration(), trenchMissing: true})
	}
	errs = append(errs, r.patchStatuses(ctx, before, resources(s)))
	return kerrors.NewAggregate(errs)
}

// liveStates reads every rendered object (from the apply responses when just written, else
// from the cache) and judges it against its render.
func (r *TrenchReconciler) liveStates(ctx context.Context, res *render.Result, written map[string]map[string]any) (map[string]liveState, error) {
	out := map[string]liveState{}
	for _, it := range res.Items {
		id := clustersink.ID(it.Object)
		rendered, err := runtime.DefaultUnstructuredConverter.ToUnstructured(it.Object)
		if err != nil {
			return nil, err
		}
		if w, ok := written[id]; ok {
			out[id] = liveStateOf(id, rendered, w)
			continue
		}
		live, err := clustersink.Live(ctx, r.Client, it.Object)
		if err != nil {
			return nil, err
		}
		out[id] = liveStateOf(id, rendered, live)
	}
	return out, nil
}

// setStatuses computes the status of every resource of the trench.
func (r *TrenchReconciler) setStatuses(s *meridiov1.Snapshot, res *render.Result, live map[string]liveState, applyErr error) {
	byOwner := map[render.Owner][]liveState{}
	for _, it := range res.Items {
		byOwner[it.Owner] = append(byOwner[it.Owner], live[clustersink.ID(it.Object)])
	}
	problems := map[render.Owner][]render.Problem{}
	for _, p := range res.Problems {
		problems[p.Owner] = append(problems[p.Owner], p)
	}
	config := []liveState{live["ConfigMap/"+r.Settings.NamePrefix+"meridio-configuration-"+s.Trench.Name]}
	for _, o := range resources(s) {
		owner := render.OwnerOf(o)
		in := statusInputs{generation: o.GetGeneration(), problems: problems[owner], applyErr: applyErr, objects: byOwner[owner]}
		for _, f := range o.Findings(s) {
			if strings.HasSuffix(f.Reason, "NotFound") {
				in.findings = append(in.findings, f)
			}
		}
		switch c := o.(type) {
		case *meridiov1.Gateway, *meridiov1.Vip:
			in.objects = config
		case *meridiov1.Stream:
			in.objects = config
			if c.Spec.Conduit == "" {
				in.excluded = "spec.conduit is empty: the stream is left out of the configuration"
			}
		case *meridiov1.Flow:
			in.objects = config
			if c.Spec.Stream == "" {
				in.excluded = "spec.stream is empty: the flow is left out of the configuration"
			}
		}
		computeStatus(o.MeridioStatus(), in)
	}
}

// report records what the delivery did: metrics, and events a user must see.
func (r *TrenchReconciler) report(t *meridiov1.Trench, rep clustersink.Report, applyErr error) {
	objectsApplied.WithLabelValues(t.Namespace, t.Name).Add(float64(len(rep.Applied)))
	objectsPruned.WithLabelValues(t.Namespace, t.Name).Add(float64(len(rep.Pruned)))
	if len(rep.Applied) > 0 {
		r.Recorder.Eventf(t, nil, corev1.EventTypeNormal, "Applied", "Apply", "applied %d objects: %s", len(rep.Applied), strings.Join(rep.Applied, ", "))
	}
	if len(rep.Pruned) > 0 {
		r.Recorder.Eventf(t, nil, corev1.EventTypeNormal, "Pruned", "Prune", "deleted %d objects no longer rendered: %s", len(rep.Pruned), strings.Join(rep.Pruned, ", "))
	}
	if applyErr != nil {
		r.Recorder.Eventf(t, nil, corev1.EventTypeWarning, "ApplyFailed", "Apply", "%s", applyErr.Error())
	}
}

// patchStatuses writes the status of each resource whose status changed, and an event when a
// resource becomes stalled (an invalid spec or an unknown resource template).
func (r *TrenchReconciler) patchStatuses(ctx context.Context, before, after []meridiov1.Validated) error {
	var errs []error
	for i, o := range after {
		old := before[i]
		st := withoutTransitionTimes(o.MeridioStatus())
		if reflect.DeepEqual(old.MeridioStatus(), o.MeridioStatus()) || r.written.Repeats(string(o.GetUID()), "status", old.GetResourceVersion(), st) {
			continue
		}
		if err := r.Client.Status().Patch(ctx, o, client.MergeFrom(old)); client.IgnoreNotFound(err) != nil {
			errs = append(errs, fmt.Errorf("patch status of %s %s: %w", kindOf(o), o.GetName(), err))
			continue
		}
		r.written.Record(string(o.GetUID()), "status", old.GetResourceVersion(), o.GetResourceVersion(), st)
		stalled := apimeta.FindStatusCondition(o.MeridioStatus().Conditions, meta.StalledCondition)
		if stalled != nil && stalled.Status == metav1.ConditionTrue && !apimeta.IsStatusConditionTrue(old.MeridioStatus().Conditions, meta.StalledCondition) {
			r.Recorder.Eventf(o, nil, corev1.EventTypeWarning, stalled.Reason, "Reconcile", "%s", stalled.Message)
		}
	}
	return kerrors.NewAggregate(errs)
}

// withoutTransitionTimes copies a status without its transition times, which differ between
// two computations of the same status from a cache that has not seen the first one.
func withoutTransitionTimes(s *meridiov1.Status) meridiov1.Status {
	out := *s.DeepCopy()
	for i := range out.Conditions {
		out.Conditions[i].LastTransitionTime = metav1.Time{}
	}
	return out
}

// resources lists the trench (an empty one when it is gone) and then its resources, as
// pointers into the snapshot.
func resources(s *meridiov1.Snapshot) []meridiov1.Validated {
	t := s.Trench
	if t == nil {
		t = &meridiov1.Trench{}
	}
	return append([]meridiov1.Validated{t}, s.Children()...)
}

// copyResources deep-copies resources(s), as the base of the status patches.
func copyResources(s *meridiov1.Snapshot) []meridiov1.Validated {
	rs := resources(s)
	out := make([]meridiov1.Validated, len(rs))
	for i, o := range rs {
		out[i] = o.DeepCopyObject().(meridiov1.Validated)
	}
	return out
}

func kindOf(o meridiov1.Object) string { return render.OwnerOf(o).Kind }

// SetupWithClusterSink registers a TrenchReconciler that delivers to the cluster it runs in,
// reconciling up to workers trenches at once (0 for the default).
func SetupWithClusterSink(mgr ctrl.Manager, settings render.Settings, workers int) error {
	r := &TrenchReconciler{
		Client:                  mgr.GetClient(),
		Sink:                    &clustersink.Sink{Client: mgr.GetClient()},
		Settings:                settings,
		Recorder:                mgr.GetEventRecorder("meridio-operator"),
		MaxConcurrentReconciles: workers,
	}
	return r.SetupWithManager(mgr)
}
