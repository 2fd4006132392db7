package controllers

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/go-logr/logr"
	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/delivery"
	"github.com/meridio-operator/meridio-operator/internal/memo"
	"github.com/meridio-operator/meridio-operator/internal/snapshot"
	"github.com/meridio-operator/meridio-operator/render"
)

// +kubebuilder:rbac:groups=meridio.nordix.org,resources=trenches;attractors;gateways;vips;conduits;streams;flows,verbs=get;list;watch;update;patch;delete,namespace=system
// +kubebuilder:rbac:groups=meridio.nordix.org,resources=trenches/finalizers;attractors/finalizers;conduits/finalizers,verbs=update,namespace=system
// +kubebuilder:rbac:groups=meridio.nordix.org,resources=trenches/status;attractors/status;gateways/status;vips/status;conduits/status;streams/status;flows/status,verbs=get;update;patch,namespace=system
// +kubebuilder:rbac:groups="",resources=configmaps;services,verbs=get;list;watch;create;update;patch;delete,namespace=system
// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets;daemonsets,verbs=get;list;watch;create;update;patch;delete,namespace=system
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;update;patch;delete,namespace=system
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch,namespace=system

// TrenchReconciler renders and delivers the workload set of each trench, and reports the
// status of every Meridio resource from the live objects.
type TrenchReconciler struct {
	// Client reads from the manager's cache and writes to the API server.
	Client client.Client
	// Sink delivers the renders: to the cluster, or to Git.
	Sink     delivery.Sink
	Settings render.Settings
	Recorder events.EventRecorder
	// Namespace is the one namespace reconciled ("" for all).
	Namespace string
	// MaxConcurrentReconciles is how many trenches are reconciled at once (default 4):
	// trenches share nothing but the read-only settings and the locked memo below.
	MaxConcurrentReconciles int

	queue    atomic.Pointer[priorityqueue.PriorityQueue[reconcile.Request]]
	inflight atomic.Int32
	// deferred holds the trenches whose bookkeeping waits behind other trenches' workloads,
	// with what their deferred passes delivered (a delivery.Result), to report.
	deferred sync.Map

	// written remembers status and adoption patches, so that a cache lagging behind them does
	// not cause the same patch twice.
	written memo.Memo
}

// changed passes creations, deletions, and updates of the spec, labels or annotations (the
// resource-template annotation changes the render); status updates are not our business.
var changed = predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}, predicate.LabelChangedPredicate{})

// notCreated drops the creation of rendered objects when the sink applies them: the operator
// created them itself (the trenches of objects found at start-up are enqueued from the sink's
// inventory), and a reconcile for each would only compete with the trenches still waiting for
// their workloads. Changes and deletions are still watched, to follow status and repair drift.
var notCreated = predicate.Funcs{CreateFunc: func(event.CreateEvent) bool { return false }}

// SetupWithManager watches the seven kinds and the rendered objects, each mapped to its trench.
func (r *TrenchReconciler) SetupWithManager(mgr ctrl.Manager) error {
	memo.MustRegister(metrics.Registry, "reconciler", &r.written)
	workers := r.MaxConcurrentReconciles
	if workers < 1 {
		workers = 4
	}
	// The controller reconciles trenches, but its sources are kindSources, not For and Watches:
	// see kindSource for why.
	c := mgr.GetCache()
	b := ctrl.NewControllerManagedBy(mgr).
		Named("trench").
		WithOptions(controller.Options{MaxConcurrentReconciles: workers, NewQueue: r.newQueue, RateLimiter: retryLimiter(), LogConstructor: trenchLogger(mgr)}).
		WatchesRawSource(watchKind(c, &meridiov1.Trench{}, &handler.EnqueueRequestForObject{}, changed))
	for _, o := range []client.Object{&meridiov1.Attractor{}, &meridiov1.Gateway{}, &meridiov1.Vip{}, &meridiov1.Conduit{}, &meridiov1.Stream{}, &meridiov1.Flow{}} {
		b = b.WatchesRawSource(watchKind(c, o, handler.EnqueueRequestsFromMapFunc(toTrench(meridiov1.TrenchLabel)), changed))
	}
	obs, applies := r.Sink.(delivery.Observer)
	for _, o := range render.Kinds() {
		if !applies {
			// Someone else (Flux, Argo CD) creates the objects: their creation is news.
			b = b.WatchesRawSource(watchKind(c, o, handler.EnqueueRequestsFromMapFunc(toTrench(render.LabelTrench))))
			continue
		}
		b = b.WatchesRawSource(watchKind(c, o, handler.EnqueueRequestsFromMapFunc(toTrench(render.LabelTrench)), notCreated))
		b = b.WatchesRawSource(watchKind(c, o, observe(obs)))
	}
	if b, ok := r.Sink.(delivery.BacklogAware); ok {
		b.SetBacklog(r.backlog)
	}
	if landed := r.Sink.Landed(); landed != nil {
		b = b.WatchesRawSource(source.Channel(landed, &handler.EnqueueRequestForObject{}))
	}
	// Trenches the sink holds output for but that no longer exist are only found this way.
	b = b.WatchesRawSource(source.Func(r.enqueueDelivered))
	return b.Complete(r)
}

// trenchLogger is the log of a reconcile, with the trench's key as the builder's For would give.
func trenchLogger(mgr ctrl.Manager) func(*reconcile.Request) logr.Logger {
	log := mgr.GetLogger().WithValues("controller", "trench", "controllerGroup", meridiov1.GroupVersion.Group, "controllerKind", "Trench")
	return func(req *reconcile.Request) logr.Logger {
		if req == nil {
			return log
		}
		return log.WithValues("Trench", klog.KRef(req.Namespace, req.Name), "namespace", req.Namespace, "name", req.Name)
	}
}

// observe passes every object the cache receives to the sink, and enqueues nothing.
func observe(obs delivery.Observer) handler.EventHandler {
	return handler.Funcs{
		CreateFunc: func(_ context.Context, e event.CreateEvent, _ workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			obs.Observed(e.Object)
		},
		UpdateFunc: func(_ context.Context, e event.UpdateEvent, _ workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			obs.Observed(e.ObjectNew)
		},
	}
}

// maxRetryDelay caps the backoff of a failing trench. controller-runtime's default cap (about
// 16 min) would leave a trench waiting long after an outage of the API server or the Git remote
// ended; 30 s is the cap the informers' own reconnects use.
const maxRetryDelay = 30 * time.Second

// retryLimiter is controller-runtime's default rate limiter with the per-trench backoff capped
// at maxRetryDelay.
func retryLimiter() workqueue.TypedRateLimiter[reconcile.Request] {
	return workqueue.NewTypedMaxOfRateLimiter(
		workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](5*time.Millisecond, maxRetryDelay),
		&workqueue.TypedBucketRateLimiter[reconcile.Request]{Limiter: rate.NewLimiter(rate.Limit(10), 100)},
	)
}

// newQueue is controller-runtime's default queue, kept to tell the backlog.
func (r *TrenchReconciler) newQueue(name string, rl workqueue.TypedRateLimiter[reconcile.Request]) workqueue.TypedRateLimitingInterface[reconcile.Request] {
	q := priorityqueue.New(name, func(o *priorityqueue.Opts[reconcile.Request]) { o.RateLimiter = rl })
	r.queue.Store(&q)
	return q
}

// backlog is how many trenches are queued or being reconciled (retries waiting for their
// backoff do not count).
func (r *TrenchReconciler) backlog() int {
	n := int(r.inflight.Load())
	if q := r.queue.Load(); q != nil {
		n += (*q).Len()
	}
	return n
}

// enqueueDelivered enqueues every trench the sink holds output for, once at start-up. The
// sink may not be reachable yet (a Git remote that is down): it is asked again with backoff,
// without holding up the controller.
func (r *TrenchReconciler) enqueueDelivered(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
	go func() {
		log := ctrl.LoggerFrom(ctx).WithName("trench")
		for delay := time.Second; ; delay = min(2*delay, time.Minute) {
			trenches, err := r.Sink.Trenches(ctx)
			if err == nil {
				for _, t := range trenches {
					// Another operator may own the trenches of namespaces this one does not watch.
					if r.Namespace == "" || t.Namespace == r.Namespace {
						q.Add(reconcile.Request{NamespacedName: t})
					}
				}
				return
			}
			log.Error(err, "list the trenches the sink holds; retrying", "backoff", delay)
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
		}
	}()
	return nil
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
		// A reconcile cut short by the manager stopping is no error to report: the next start
		// reconciles every trench again.
		if retErr != nil && ctx.Err() != nil {
			log.V(1).Info("stopped during a reconcile", "error", retErr.Error())
			retErr = nil
		}
	}()
	// The reconcile counts in the backlog until it has handed its render to the sink.
	r.inflight.Add(1)
	delivered := sync.OnceFunc(func() { r.inflight.Add(-1) })
	defer delivered()
	defer func() {
		reconcileDuration.WithLabelValues(req.Namespace, req.Name).Observe(time.Since(start).Seconds())
	}()

	s, err := snapshot.Load(ctx, r.Client, req.Namespace, req.Name)
	if err != nil {
		return ctrl.Result{}, err
	}
	if s.Trench == nil || !s.Trench.DeletionTimestamp.IsZero() {
		r.deferred.Delete(req.NamespacedName)
		return ctrl.Result{}, r.reconcileDelete(ctx, req, s)
	}
	renderStart := time.Now()
	res, err := render.Render(s, r.Settings)
	renderDuration.Observe(time.Since(renderStart).Seconds())
	if err != nil {
		return ctrl.Result{}, err
	}
	// What the workloads need goes first; the bookkeeping (adoption, status) after. A render
	// that cannot be delivered (it would fail at every retry) is only reported, as Stalled.
	var del delivery.Result
	var deliverErr error
	if res.Undeliverable() == nil {
		del, deliverErr = r.Sink.Deliver(ctx, res)
	}
	delivered()
	objectsApplied.WithLabelValues(req.Namespace, req.Name).Add(float64(len(del.Changed)))
	objectsPruned.WithLabelValues(req.Namespace, req.Name).Add(float64(len(del.Removed)))
	if deliverErr == nil && r.deferBookkeeping(req, del) {
		// The report (an event) is bookkeeping too: it waits, with what was delivered.
		return ctrl.Result{RequeueAfter: time.Millisecond, Priority: ptr.To(bookkeepingPriority)}, nil
	}
	del = r.takeDeferred(req, del)
	r.report(s.Trench, del, deliverErr)
	if err := r.adopt(ctx, s); err != nil {
		return ctrl.Result{}, kerrors.NewAggregate([]error{deliverErr, err})
	}
	before := copyResources(s)
	defer func() {
		retErr = kerrors.NewAggregate([]error{retErr, r.patchStatuses(ctx, req, before, resources(s))})
	}()
	live, err := r.liveStates(ctx, res)
	if err != nil {
		return ctrl.Result{}, err
	}
	r.setStatuses(s, res, live, del, deliverErr)
	r.reportOutcome(ctx, s.Trench, del, deliverErr)
	log.V(1).Info("reconciled", "changed", len(del.Changed), "removed", len(del.Removed), "revision", del.Revision, "pending", del.Pending, "problems", len(res.Problems), "duration", time.Since(start))
	return ctrl.Result{}, deliverErr
}

// bookkeepingPriority queues the adoption and status of a trench whose workloads went out
// while others waited, behind every trench still waiting (the initial list's items come with
// handler.LowPriority).
const bookkeepingPriority = handler.LowPriority * 2

// deferBookkeeping tells whether the adoption and status of a trench just delivered should wait
// until the trenches queued after it got their workloads too: after a start or a bulk apply,
// workloads are then present as early as a bare client would create them. A sink that delivers
// later (Git) needs no such order: its deliveries wait for the backlog anyway.
func (r *TrenchReconciler) deferBookkeeping(req ctrl.Request, del delivery.Result) bool {
	if del.Commits || del.Pending {
		return false
	}
	q := r.queue.Load()
	if q == nil {
		return false
	}
	waiting := (*q).Len()
	r.deferred.Range(func(key, _ any) bool {
		if key != req.NamespacedName {
			waiting--
		}
		return waiting > 0
	})
	if waiting <= 0 {
		return false
	}
	r.deferred.Store(req.NamespacedName, r.takeDeferred(req, del))
	return true
}

// takeDeferred returns del with what the trench's deferred passes delivered before it, and
// forgets them.
func (r *TrenchReconciler) takeDeferred(req ctrl.Request, del delivery.Result) delivery.Result {
	v, ok := r.deferred.LoadAndDelete(req.NamespacedName)
	if !ok {
		return del
	}
	earlier := v.(delivery.Result)
	del.Changed = union(earlier.Changed, del.Changed)
	del.Removed = union(earlier.Removed, del.Removed)
	return del
}

// union is the sorted names of a and b, each once.
func union(a, b []string) []string {
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}

// adopt gives every resource of the trench a (non-controller) owner reference to the trench,
// as the reference operator does, so that deleting the trench deletes its resources.
func (r *TrenchReconciler) adopt(ctx context.Context, s *meridiov1.Snapshot) error {
	ref := metav1.OwnerReference{APIVersion: meridiov1.GroupVersion.String(), Kind: "Trench", Name: s.Trench.Name, UID: s.Trench.UID}
	for _, o := range s.Children() {
		if ownedByTrench(o, s.Trench.Name, s.Trench.UID) || r.written.Repeats(memoKey(s.Trench.Namespace, s.Trench.Name, o), "adopt", o.GetResourceVersion(), ref) {
			continue
		}
		orig := o.DeepCopyObject().(client.Object)
		o.SetOwnerReferences(append(o.GetOwnerReferences(), ref))
		if err := r.Client.Patch(ctx, o, client.MergeFrom(orig)); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("adopt %s %s into trench %s: %w", render.OwnerOf(o).Kind, o.GetName(), s.Trench.Name, err)
		}
		r.written.Record(memoKey(s.Trench.Namespace, s.Trench.Name, o), "adopt", orig.GetResourceVersion(), o.GetResourceVersion(), ref)
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
	del, err := r.Sink.Remove(ctx, req.Namespace, req.Name)
	objectsPruned.WithLabelValues(req.Namespace, req.Name).Add(float64(len(del.Removed)))
	if err != nil {
		return err
	}
	if len(del.Removed) > 0 || del.Pending {
		ctrl.LoggerFrom(ctx).Info("removed the output of a deleted trench", "objects", del.Removed, "pending", del.Pending)
	}
	if s.Trench != nil {
		return nil // being deleted: its resources go with it
	}
	before := copyResources(s)
	var errs []error
	for _, o := range s.Children() {
		if ownedByTrench(o, req.Name, "") {
			if err := r.Client.Delete(ctx, o); client.IgnoreNotFound(err) != nil {
				errs = append(errs, fmt.Errorf("delete %s %s of deleted trench %s: %w", render.OwnerOf(o).Kind, o.GetName(), req.Name, err))
			}
			continue
		}
		computeStatus(o.MeridioStatus(), statusInputs{generation: o.GetGeneration(), trenchMissing: true})
	}
	errs = append(errs, r.patchStatuses(ctx, req, before, resources(s)))
	return kerrors.NewAggregate(errs)
}

// liveStates reads every rendered object through the sink and judges it against its render.
func (r *TrenchReconciler) liveStates(ctx context.Context, res *render.Result) (map[string]liveState, error) {
	out := map[string]liveState{}
	for _, it := range res.Items {
		id := render.ID(it.Object)
		live, err := r.Sink.Live(ctx, it.Object)
		if err != nil {
			return nil, err
		}
		out[id] = liveStateOf(id, it.Object.GetAnnotations()[render.AnnotationHash], live)
	}
	return out, nil
}

// setStatuses computes the status of every resource of the trench.
func (r *TrenchReconciler) setStatuses(s *meridiov1.Snapshot, res *render.Result, live map[string]liveState, del delivery.Result, deliverErr error) {
	inputs := statusInputsFor(s, res, live, del, deliverErr)
	for _, o := range resources(s) {
		computeStatus(o.MeridioStatus(), inputs[render.OwnerOf(o)])
	}
	if deliverErr == nil && !del.Pending {
		s.Trench.Status.Revision = del.Revision
	}
	r.setDeliveryStatus(s.Trench, res, live, del, deliverErr)
}

// setDeliveryStatus follows the trench's render to live, healthy objects (Committed, Applied,
// Healthy); in git mode the Trench is Ready only when all three are True.
func (r *TrenchReconciler) setDeliveryStatus(t *meridiov1.Trench, res *render.Result, live map[string]liveState, del delivery.Result, deliverErr error) {
	all := make([]liveState, 0, len(res.Items))
	for _, it := range res.Items {
		all = append(all, live[render.ID(it.Object)])
	}
	before := append([]metav1.Condition(nil), t.Status.Conditions...)
	failing := setDeliveryConditions(&t.Status.Status, deliveryInputs{
		generation: t.Generation, commits: del.Commits, pending: del.Pending,
		revision: del.Revision, deliverErr: deliverErr, objects: all,
	})
	if del.Commits && failing != nil && apimeta.IsStatusConditionTrue(t.Status.Conditions, meta.ReadyCondition) {
		apimeta.SetStatusCondition(&t.Status.Conditions, metav1.Condition{Type: meta.ReadyCondition, Status: metav1.ConditionFalse,
			Reason: failing.Reason, Message: failing.Message, ObservedGeneration: t.Generation})
		apimeta.SetStatusCondition(&t.Status.Conditions, metav1.Condition{Type: meta.ReconcilingCondition, Status: metav1.ConditionTrue,
			Reason: failing.Reason, Message: failing.Message, ObservedGeneration: t.Generation})
	}
	observeDelivery(t.Namespace, t.Name, before, t.Status.Conditions, time.Now())
	setExternalModification(&t.Status.Status, t.Generation, del.Held)
	setReview(t, del.Review)
}

// setExternalModification reports the files someone else edited in the trench's output, which
// hold its render back; the Trench is not Ready meanwhile.
func setExternalModification(st *meridiov1.Status, generation int64, held []string) {
	if len(held) == 0 {
		apimeta.RemoveStatusCondition(&st.Conditions, meridiov1.ExternalModificationCondition)
		return
	}
	msg := limit(fmt.Sprintf("changed outside the operator, not overwritten until the trench's resources change: %s", strings.Join(held, ", ")))
	for _, c := range []metav1.Condition{
		{Type: meridiov1.ExternalModificationCondition, Status: metav1.ConditionTrue},
		{Type: meta.ReadyCondition, Status: metav1.ConditionFalse},
	} {
		c.Reason, c.Message, c.ObservedGeneration = meridiov1.ExternalModificationCondition, msg, generation
		apimeta.SetStatusCondition(&st.Conditions, c)
	}
}

// report records what the delivery did as the events a user must see.
func (r *TrenchReconciler) report(t *meridiov1.Trench, del delivery.Result, deliverErr error) {
	if len(del.Changed) > 0 {
		// An event's note may hold 1 kB: longer ones are refused by the API server.
		r.Recorder.Eventf(t, nil, corev1.EventTypeNormal, "Applied", "Apply", "%s", limit(fmt.Sprintf("%s %d objects: %s", delivered(del), len(del.Changed), strings.Join(del.Changed, ", "))))
	}
	if len(del.Removed) > 0 {
		r.Recorder.Eventf(t, nil, corev1.EventTypeNormal, "Pruned", "Prune", "%s", limit(fmt.Sprintf("%s the removal of %d objects no longer rendered: %s", delivered(del), len(del.Removed), strings.Join(del.Removed, ", "))))
	}
	if deliverErr != nil {
		reason := delivery.ReasonOf(deliverErr, "ApplyFailed")
		// The same failure on every retry is one event, which the recorder aggregates.
		r.Recorder.Eventf(t, nil, corev1.EventTypeWarning, reason, "Deliver", "%s", limit(deliverErr.Error()))
	}
}

// delivered is how an event says where a change went.
func delivered(del delivery.Result) string {
	if del.Revision == "" {
		return "applied"
	}
	return "committed in " + del.Revision
}

// patchStatuses writes the status of each resource whose status changed, and an event when a
// resource becomes stalled (an invalid spec or an unknown resource template).
func (r *TrenchReconciler) patchStatuses(ctx context.Context, req ctrl.Request, before, after []meridiov1.Validated) error {
	var errs []error
	// Forget the writes to resources that are gone, so that the memo stays as big as the trench.
	keep := map[string]bool{}
	for _, o := range after {
		keep[memoKey(req.Namespace, req.Name, o)] = true
	}
	defer r.written.ForgetExcept(memoKey(req.Namespace, req.Name, nil), keep)
	for i, o := range after {
		old := before[i]
		st := withoutTransitionTimes(o)
		if reflect.DeepEqual(statusOf(old), statusOf(o)) || r.written.Repeats(memoKey(req.Namespace, req.Name, o), "status", old.GetResourceVersion(), st) {
			continue
		}
		if err := r.Client.Status().Patch(ctx, o, client.MergeFrom(old)); client.IgnoreNotFound(err) != nil {
			errs = append(errs, fmt.Errorf("patch status of %s %s: %w", render.OwnerOf(o).Kind, o.GetName(), err))
			continue
		}
		r.written.Record(memoKey(req.Namespace, req.Name, o), "status", old.GetResourceVersion(), o.GetResourceVersion(), st)
		if ext := apimeta.FindStatusCondition(o.MeridioStatus().Conditions, meridiov1.ExternalModificationCondition); ext != nil &&
			!apimeta.IsStatusConditionTrue(old.MeridioStatus().Conditions, meridiov1.ExternalModificationCondition) {
			r.Recorder.Eventf(o, nil, corev1.EventTypeWarning, ext.Reason, "Deliver", "%s", ext.Message)
		}
		stalled := apimeta.FindStatusCondition(o.MeridioStatus().Conditions, meta.StalledCondition)
		if stalled != nil && stalled.Status == metav1.ConditionTrue && !apimeta.IsStatusConditionTrue(old.MeridioStatus().Conditions, meta.StalledCondition) {
			r.Recorder.Eventf(o, nil, corev1.EventTypeWarning, stalled.Reason, "Reconcile", "%s", stalled.Message)
		}
	}
	return kerrors.NewAggregate(errs)
}

// statusOf returns the whole status of a resource: the Trench's has more than the common one.
func statusOf(o meridiov1.Object) any {
	if t, ok := o.(*meridiov1.Trench); ok {
		return &t.Status
	}
	return o.MeridioStatus()
}

// withoutTransitionTimes copies a status without its transition times, which differ between
// two computations of the same status from a cache that has not seen the first one.
func withoutTransitionTimes(o meridiov1.Object) any {
	out := *o.MeridioStatus().DeepCopy()
	for i := range out.Conditions {
		out.Conditions[i].LastTransitionTime = metav1.Time{}
	}
	if t, ok := o.(*meridiov1.Trench); ok {
		return meridiov1.TrenchStatus{Status: out, Revision: t.Status.Revision, PullRequest: t.Status.PullRequest}
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

// memoKey names a resource's writes in the memo, grouped by trench (o nil: the group's prefix).
func memoKey(namespace, trench string, o meridiov1.Object) string {
	if o == nil {
		return memo.Key(namespace, trench, "")
	}
	return memo.Key(namespace, trench, string(o.GetUID()))
}

// Options are the settings of the trench reconciler.
type Options struct {
	// Settings shape the render.
	Settings render.Settings
	// Namespace is the one namespace reconciled ("" for all).
	Namespace string
	// Workers is how many trenches are reconciled at once (0 for the default).
	Workers int
}

// Setup registers a TrenchReconciler that delivers through sink.
func Setup(mgr ctrl.Manager, sink delivery.Sink, o Options) error {
	r := &TrenchReconciler{
		Client:                  mgr.GetClient(),
		Sink:                    sink,
		Settings:                o.Settings,
		Namespace:               o.Namespace,
		Recorder:                mgr.GetEventRecorder("meridio-operator"),
		MaxConcurrentReconciles: o.Workers,
	}
	return r.SetupWithManager(mgr)
}
