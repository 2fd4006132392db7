package controllers

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
)

// kindSource watches one kind through the manager's cache, as source.Kind does, but tells that
// it synced as soon as it did. source.Kind polls every 100 ms, twice (the informer, then the
// handler) and after the cache's own poll: at start-up that was most of the time before the first
// write, while the lists themselves take a few milliseconds.
type kindSource struct {
	cache      informers
	obj        client.Object
	handler    handler.EventHandler
	predicates []predicate.Predicate
	// retry is how long Start waits before it asks again for an informer it could not get
	// (the kind's CRD not established yet): source.Kind's 10 s.
	retry time.Duration

	started atomic.Bool
	// registered is closed once Start's handler is added (synced is then its sync checker), or
	// adding it failed for good (startErr).
	registered chan struct{}
	synced     toolscache.DoneChecker
	startErr   error
	// lastErr is the last failure to get the informer, for WaitForSync's message.
	lastErr atomic.Pointer[error]
}

var _ source.SyncingSource = &kindSource{}

// informers is the part of the manager's cache a kindSource uses.
type informers interface {
	GetInformer(ctx context.Context, obj client.Object, opts ...cache.InformerGetOption) (cache.Informer, error)
}

// watchKind is a kindSource for obj's kind.
func watchKind(c informers, obj client.Object, h handler.EventHandler, predicates ...predicate.Predicate) *kindSource {
	return &kindSource{cache: c, obj: obj, handler: h, predicates: predicates, retry: 10 * time.Second, registered: make(chan struct{})}
}

func (k *kindSource) String() string { return fmt.Sprintf("kind source: %T", k.obj) }

// Start adds the handler to the kind's informer, which starts it if it is new, and returns at
// once. An informer it cannot get (a CRD applied with the operator and not established yet) is
// asked for again every k.retry, until the context ends; WaitForSync decides how long to wait.
func (k *kindSource) Start(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
	if !k.started.CompareAndSwap(false, true) {
		return fmt.Errorf("%s started twice", k)
	}
	go func() {
		for {
			inf, err := k.cache.GetInformer(ctx, k.obj, cache.BlockUntilSynced(false))
			if err == nil {
				reg, err := inf.AddEventHandlerWithOptions(k.events(ctx, q), toolscache.HandlerOptions{})
				if err != nil {
					k.startErr = fmt.Errorf("watch %T: %w", k.obj, err)
				} else {
					k.synced = reg.HasSyncedChecker()
				}
				close(k.registered)
				return
			}
			err = fmt.Errorf("informer for %T: %w", k.obj, err)
			k.lastErr.Store(&err)
			log.FromContext(ctx).Error(err, "cannot watch the kind yet (is its CRD installed?); retrying", "retry", k.retry)
			select {
			case <-ctx.Done():
				return
			case <-time.After(k.retry):
			}
		}
	}()
	return nil
}

// WaitForSync returns once the handler has seen every object of the informer's first list, or
// the context ends: its cancellation (the manager stopping) is no error, its deadline (the
// controller's CacheSyncTimeout) is.
func (k *kindSource) WaitForSync(ctx context.Context) error {
	select {
	case <-k.registered:
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.Canceled) {
			return nil
		}
		if last := k.lastErr.Load(); last != nil {
			return fmt.Errorf("%s: %w: %w", k, ctx.Err(), *last)
		}
		return fmt.Errorf("%s did not start: %w", k, ctx.Err())
	}
	if k.startErr != nil {
		return k.startErr
	}
	if !toolscache.WaitFor(ctx, "", k.synced) {
		if errors.Is(ctx.Err(), context.Canceled) {
			return nil
		}
		return fmt.Errorf("%s did not sync: %w", k, ctx.Err())
	}
	return nil
}

// events turns the informer's notifications into the handler's events, filtered by the
// predicates, as source.Kind does.
func (k *kindSource) events(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) toolscache.ResourceEventHandler {
	return toolscache.ResourceEventHandlerDetailedFuncs{
		AddFunc: func(obj any, initial bool) {
			o, ok := obj.(client.Object)
			if !ok {
				return
			}
			e := event.CreateEvent{Object: o, IsInInitialList: initial}
			if k.passes(func(p predicate.Predicate) bool { return p.Create(e) }) {
				k.handler.Create(ctx, e, q)
			}
		},
		UpdateFunc: func(oldObj, newObj any) {
			o, ok1 := oldObj.(client.Object)
			n, ok2 := newObj.(client.Object)
			if !ok1 || !ok2 {
				return
			}
			e := event.UpdateEvent{ObjectOld: o, ObjectNew: n}
			if k.passes(func(p predicate.Predicate) bool { return p.Update(e) }) {
				k.handler.Update(ctx, e, q)
			}
		},
		DeleteFunc: func(obj any) {
			e := event.DeleteEvent{}
			// An object deleted while the watch was down comes wrapped in a tombstone.
			if t, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
				e.DeleteStateUnknown, obj = true, t.Obj
			}
			o, ok := obj.(client.Object)
			if !ok {
				return
			}
			e.Object = o
			if k.passes(func(p predicate.Predicate) bool { return p.Delete(e) }) {
				k.handler.Delete(ctx, e, q)
			}
		},
	}
}

// passes tells whether every predicate lets an event through.
func (k *kindSource) passes(lets func(predicate.Predicate) bool) bool {
	for _, p := range k.predicates {
		if !lets(p) {
			return false
		}
	}
	return true
}
