// Package delivery is the contract between the trench reconciler and the two ways a render is
// delivered: to the cluster the operator runs in (clustersink) or to a Git repository for Flux
// or Argo CD (gitsink). The reconciler only speaks this contract, so it never branches on the
// mode.
package delivery

import (
	"context"
	"errors"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/meridio-operator/meridio-operator/render"
)

// Sink delivers the rendered workload sets of trenches.
type Sink interface {
	// Deliver makes res the delivered state of its trench: every object it renders, and none
	// of the trench's objects that it no longer renders.
	Deliver(ctx context.Context, res *render.Result) (Result, error)
	// Remove withdraws everything delivered for a trench.
	Remove(ctx context.Context, namespace, trench string) (Result, error)
	// Trenches lists the trenches the sink holds output for. At start-up the reconciler visits
	// each of them, so that a trench deleted while the operator was down is cleaned up.
	Trenches(ctx context.Context) ([]types.NamespacedName, error)
	// Live reads the live state of a rendered object, as a map; nil when it does not exist.
	// Status is computed from it in both modes.
	Live(ctx context.Context, rendered client.Object) (map[string]any, error)
	// Landed tells about deliveries that complete after Deliver returned (a coalesced commit
	// pushed, or its push failing): each event names a Trench to reconcile again. Nil when
	// every delivery completes inside Deliver.
	Landed() <-chan event.GenericEvent
}

// Result says what a delivery did.
type Result struct {
	// Changed names what the delivery wrote, as "Kind/name" of rendered objects.
	Changed []string
	// Removed names the objects withdrawn because they are no longer rendered.
	Removed []string
	// Revision names where the delivered state is: `<branch>@sha1:<commit>` for Git (the
	// form of Flux's lastAppliedRevision). Empty for the cluster, whose objects carry their own
	// resourceVersions, and while the delivery is Pending.
	Revision string
	// Pending means the render is accepted but not delivered yet (Git: waiting for its commit
	// to be pushed); Landed will name the trench when it is.
	Pending bool
	// Held lists files someone else edited in the trench's output: the render is held back
	// rather than overwrite them (until the trench's resources change).
	Held []string
	// Commits says that the sink delivers in commits, which the Trench's Committed condition
	// follows (Git); the cluster has none.
	Commits bool
	// Review is the pull request that proposes the trench's render (nil: none is followed).
	Review *Review
}

// Review is a pull request on a forge, or the failure to open or update it.
type Review struct {
	URL    string
	Number int64
	// State is open, merged or closed.
	State string
	// Err is the forge's refusal, when the pull request could not be opened or updated.
	Err error
}

// ReasonDryRunFailed: the API server refuses an object of the render in a dry run, so the
// render is not delivered.
const ReasonDryRunFailed = "DryRunFailed"

// Outcome is how a delivered revision fared, for the sinks that tell the forge (commit
// statuses).
type Outcome struct {
	// Revision is the trench's delivered revision ("" when the current render was refused
	// before it was committed: the outcome is then about the newest commit).
	Revision string
	// State is "pending", "success" or "failure".
	State string
	// Description says why, in a line.
	Description string
}

// Observer is a Sink that applies the rendered objects itself and wants to see them as the
// manager's cache receives them (the cluster sink, whose own recent writes stand in for a cache
// behind them until then). The reconciler passes it every rendered object the cache receives.
type Observer interface {
	Observed(obj client.Object)
}

// BacklogAware is a Sink that batches deliveries while more reconciles are coming (the git
// sink, which makes one commit of many changes). The reconciler gives it the number of
// trenches waiting in its queue.
type BacklogAware interface {
	SetBacklog(func() int)
}

// OutcomeReporter is a Sink that reports each trench's outcome where its revision is
// reviewed; the reconciler calls it after each status computation, so it must drop what it
// already reported.
type OutcomeReporter interface {
	ReportOutcome(ctx context.Context, trench types.NamespacedName, o Outcome)
}

// Error is a delivery failure with the reason the Trench's Ready condition shows. Its message
// holds no credentials.
type Error struct {
	Reason string
	Err    error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// ReasonOf returns the reason of the first Error in err's chain, or def.
func ReasonOf(err error, def string) string {
	var de *Error
	if errors.As(err, &de) && de.Reason != "" {
		return de.Reason
	}
	return def
}
