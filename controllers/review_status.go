package controllers

import (
	"context"
	"fmt"

	"github.com/fluxcd/pkg/apis/meta"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/delivery"
)

// setReview reports the pull request that proposes the trench's render: status.pullRequest
// and the PullRequest condition (removed when none is followed).
func setReview(t *meridiov1.Trench, rv *delivery.Review) {
	if rv == nil {
		t.Status.PullRequest = nil
		apimeta.RemoveStatusCondition(&t.Status.Conditions, meridiov1.PullRequestCondition)
		return
	}
	c := metav1.Condition{Type: meridiov1.PullRequestCondition, ObservedGeneration: t.Generation}
	switch {
	case rv.Err != nil:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, meridiov1.PullRequestFailedReason, rv.Err.Error()
	case rv.State == "merged":
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, meridiov1.PullRequestMergedReason, fmt.Sprintf("pull request #%d is merged: %s", rv.Number, rv.URL)
	case rv.State == "closed":
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, meridiov1.PullRequestClosedReason, fmt.Sprintf("pull request #%d was closed without merging; the next change opens a new one: %s", rv.Number, rv.URL)
	default:
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, meridiov1.PullRequestOpenReason, fmt.Sprintf("pull request #%d is open: %s", rv.Number, rv.URL)
	}
	if rv.Err == nil {
		t.Status.PullRequest = &meridiov1.PullRequestStatus{URL: rv.URL, Number: rv.Number, State: rv.State}
	}
	c.Message = limit(c.Message)
	apimeta.SetStatusCondition(&t.Status.Conditions, c)
}

// outcome is what the forge is told of the trench's revision: failure when its render was
// refused by the dry run or it is stalled, success once it is applied and healthy, else
// pending; false when there is nothing to tell (no revision yet, a delivery failure that is
// not about the render).
func outcome(t *meridiov1.Trench, del delivery.Result, deliverErr error) (delivery.Outcome, bool) {
	conds := t.Status.Conditions
	switch {
	case deliverErr != nil && delivery.ReasonOf(deliverErr, "") == delivery.ReasonDryRunFailed:
		return delivery.Outcome{State: "failure", Description: deliverErr.Error()}, true
	case deliverErr != nil || del.Pending || del.Revision == "":
		return delivery.Outcome{}, false
	}
	o := delivery.Outcome{Revision: del.Revision}
	stalled := apimeta.FindStatusCondition(conds, meta.StalledCondition)
	switch {
	case stalled != nil && stalled.Status == metav1.ConditionTrue:
		o.State, o.Description = "failure", stalled.Reason+": "+stalled.Message
	case apimeta.IsStatusConditionTrue(conds, meridiov1.AppliedCondition) && apimeta.IsStatusConditionTrue(conds, meridiov1.HealthyCondition):
		o.State, o.Description = "success", "applied and healthy"
	case apimeta.IsStatusConditionTrue(conds, meridiov1.AppliedCondition):
		o.State, o.Description = "pending", "applied; waiting for the objects to be ready"
	default:
		o.State, o.Description = "pending", "committed; waiting for the cluster to apply it"
	}
	return o, true
}

// reportOutcome tells a sink that reports outcomes (to a forge) how the trench's revision
// fares.
func (r *TrenchReconciler) reportOutcome(ctx context.Context, t *meridiov1.Trench, del delivery.Result, deliverErr error) {
	rep, ok := r.Sink.(delivery.OutcomeReporter)
	if !ok || !del.Commits {
		return
	}
	if o, ok := outcome(t, del, deliverErr); ok {
		rep.ReportOutcome(ctx, types.NamespacedName{Namespace: t.Namespace, Name: t.Name}, o)
	}
}
