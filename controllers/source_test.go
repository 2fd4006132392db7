package controllers

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	toolscache "k8s.io/client-go/tools/cache"
	fcache "k8s.io/client-go/tools/cache/testing"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// oneInformer hands out one client-go informer, started at the first GetInformer, as the
// manager's running cache does.
type oneInformer struct {
	inf   toolscache.SharedIndexInformer
	start sync.Once
}

func (o *oneInformer) GetInformer(ctx context.Context, _ client.Object, _ ...cache.InformerGetOption) (cache.Informer, error) {
	o.start.Do(func() { go o.inf.RunWithContext(ctx) })
	return o.inf, nil
}

// recorded is what a handler was called with.
type recorded struct {
	mu      sync.Mutex
	creates []event.CreateEvent
	updates []event.UpdateEvent
	deletes []event.DeleteEvent
}

func (r *recorded) handler() handler.EventHandler {
	return handler.Funcs{
		CreateFunc: func(_ context.Context, e event.CreateEvent, _ workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.creates = append(r.creates, e)
		},
		UpdateFunc: func(_ context.Context, e event.UpdateEvent, _ workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.updates = append(r.updates, e)
		},
		DeleteFunc: func(_ context.Context, e event.DeleteEvent, _ workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.deletes = append(r.deletes, e)
		},
	}
}

func configMap(name string, generation int64) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, Generation: generation}}
}

func newQueue() workqueue.TypedRateLimitingInterface[reconcile.Request] {
	return workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
}

// WaitForSync returns once the handler has seen the first list, every object marked as such;
// later events pass the predicates.
func TestKindSource(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := fcache.NewFakeControllerSource()
	defer src.Shutdown()
	const listed = 200
	for i := range listed {
		src.Add(configMap(fmt.Sprintf("cm-%03d", i), 1))
	}
	var rec recorded
	k := watchKind(&oneInformer{inf: toolscache.NewSharedIndexInformer(src, &corev1.ConfigMap{}, 0, toolscache.Indexers{})},
		&corev1.ConfigMap{}, rec.handler(), predicate.GenerationChangedPredicate{})
	q := newQueue()
	defer q.ShutDown()
	require.NoError(t, k.Start(ctx, q))
	require.NoError(t, k.WaitForSync(ctx))

	rec.mu.Lock()
	require.Len(t, rec.creates, listed, "every listed object was handed over before WaitForSync returned")
	for _, e := range rec.creates {
		assert.True(t, e.IsInInitialList, e.Object.GetName())
	}
	rec.mu.Unlock()

	src.Modify(configMap("cm-000", 1)) // the predicate drops it: same generation
	src.Modify(configMap("cm-001", 2))
	src.Add(configMap("cm-new", 1))
	src.Delete(configMap("cm-002", 1))
	require.Eventually(t, func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return len(rec.creates) == listed+1 && len(rec.deletes) == 1 && len(rec.updates) == 1
	}, 10*time.Second, 10*time.Millisecond)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	assert.Equal(t, "cm-001", rec.updates[0].ObjectNew.GetName())
	assert.False(t, rec.creates[listed].IsInInitialList)
	assert.Equal(t, "cm-002", rec.deletes[0].Object.GetName())
}

// An object deleted while the watch was down comes as a tombstone: the handler gets the object.
func TestKindSource_tombstone(t *testing.T) {
	var rec recorded
	k := watchKind(nil, &corev1.ConfigMap{}, rec.handler())
	k.events(context.Background(), newQueue()).OnDelete(toolscache.DeletedFinalStateUnknown{Key: "ns/gone", Obj: configMap("gone", 1)})
	require.Len(t, rec.deletes, 1)
	assert.True(t, rec.deletes[0].DeleteStateUnknown)
	assert.Equal(t, "gone", rec.deletes[0].Object.GetName())
}

// WaitForSync gives up with the context when the informer never lists.
func TestKindSource_neverSynced(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	blocked := &toolscache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, _ metav1.ListOptions) (runtime.Object, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		},
		// A watch (or a streaming list) that never sends anything.
		WatchFuncWithContext: func(context.Context, metav1.ListOptions) (watch.Interface, error) { return watch.NewFake(), nil },
	}
	k := watchKind(&oneInformer{inf: toolscache.NewSharedIndexInformer(blocked, &corev1.ConfigMap{}, 0, toolscache.Indexers{})},
		&corev1.ConfigMap{}, handler.Funcs{})
	require.NoError(t, k.Start(ctx, newQueue()))
	wait, stop := context.WithTimeout(ctx, 200*time.Millisecond)
	defer stop()
	err := k.WaitForSync(wait)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ConfigMap did not sync")
}

// notServedYet fails to give an informer the first times, as the cache does for a kind whose
// CRD is not established yet.
type notServedYet struct {
	oneInformer
	failures int
}

func (n *notServedYet) GetInformer(ctx context.Context, obj client.Object, opts ...cache.InformerGetOption) (cache.Informer, error) {
	if n.failures > 0 {
		n.failures--
		return nil, &meta.NoKindMatchError{GroupKind: schema.GroupKind{Kind: "ConfigMap"}}
	}
	return n.oneInformer.GetInformer(ctx, obj, opts...)
}

// A kind not served yet is asked for again, and the source syncs once it is.
func TestKindSource_kindNotServedYet(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	src := fcache.NewFakeControllerSource()
	defer src.Shutdown()
	src.Add(configMap("cm", 1))
	var rec recorded
	c := &notServedYet{oneInformer: oneInformer{inf: toolscache.NewSharedIndexInformer(src, &corev1.ConfigMap{}, 0, toolscache.Indexers{})}, failures: 2}
	k := watchKind(c, &corev1.ConfigMap{}, rec.handler())
	k.retry = 10 * time.Millisecond
	require.NoError(t, k.Start(ctx, newQueue()))
	wait, stop := context.WithTimeout(ctx, 10*time.Second)
	defer stop()
	require.NoError(t, k.WaitForSync(wait))
	assert.Zero(t, c.failures)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	assert.Len(t, rec.creates, 1)

	require.ErrorContains(t, k.Start(ctx, newQueue()), "started twice")
}

// Never served: WaitForSync gives up at its deadline with the last error; a manager stopping
// meanwhile (a cancelled context) is no error.
func TestKindSource_neverServed(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	k := watchKind(&notServedYet{failures: 1 << 30}, &corev1.ConfigMap{}, handler.Funcs{})
	k.retry = 10 * time.Millisecond
	require.NoError(t, k.Start(ctx, newQueue()))
	wait, stop := context.WithTimeout(ctx, 200*time.Millisecond)
	defer stop()
	err := k.WaitForSync(wait)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `no matches for kind "ConfigMap"`)

	stopping, stopNow := context.WithCancel(ctx)
	stopNow()
	assert.NoError(t, k.WaitForSync(stopping))
}
