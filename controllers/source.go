package controllers

import (
	"context"
	"fmt"

	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
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

	// registered is closed once Start has added the handler; synced is then its sync checker.
	registered chan struct{}
	synced     toolscache.DoneChecker
	startErr   error
}

var _ source.SyncingSource = &kindSource{}

// informers is the part of the manager's cache a kindSource uses.
type informers interface {
	GetInformer(ctx context.Context, obj client.Object, opts ...cache.InformerGetOption) (cache.Informer, error)
}

// watchKind is a kindSource for obj's kind.
func watchKind(c informers, obj client.Object, h handler.EventHandler, predicates ...predicate.Predicate) *kindSource {
	return &kindSource{cache: c, obj: obj, handler: h, predicates: predicates, registered: make(chan struct{})}
}

func (k *kindSource) String() string { return fmt.Sprintf("kind source: %T", k.obj) }

// Start adds the handler to the kind's informer, which starts it if it is new, without waiting
// for it to sync.
func (k *kindSource) Start(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
	defer close(k.registered)
	inf, err := k.cache.GetInformer(ctx, k.obj, cache.BlockUntilSynced(false))
	if err != nil {
		k.startErr = fmt.Errorf("informer for %T: %w", k.obj, err)
		return k.startErr
	}
	reg, err := inf.AddEventHandlerWithOptions(k.events(ctx, q), toolscache.HandlerOptions{})
	if err != nil {
		k.startErr = fmt.Errorf("watch %T: %w", k.obj, err)
		return k.startErr
	}
	k.synced = reg.HasSyncedChecker()
	return nil
}

// WaitForSync returns once the handler has seen every object of the informer's first list.
func (k *kindSource) WaitForSync(ctx context.Context) error {
	select {
	case <-k.registered:
	case <-ctx.Done():
		return ctx.Err()
	}
	if k.startErr != nil {
		return k.startErr
	}
	if !toolscache.WaitFor(ctx, "", k.synced) {
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
