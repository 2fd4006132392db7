package controllers

import (
	"fmt"
	"strings"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/delivery"
	"github.com/meridio-operator/meridio-operator/internal/shorten"
)

// deliveryInputs is what a Trench's delivery conditions are computed from.
type deliveryInputs struct {
	generation int64
	// commits: the sink delivers in commits (Git), so Committed is reported.
	commits bool
	// pending: the current render waits to be committed.
	pending bool
	// revision is the commit that holds the current render ("" when none does yet).
	revision string
	// deliverErr failed the delivery.
	deliverErr error
	// objects are the live states of every object of the trench's render.
	objects []liveState
}

// maxListed is how many objects a condition message names before it only counts them.
const maxListed = 4

// setDeliveryConditions sets Committed (when the sink commits), Applied and Healthy, which
// follow a render from its commit to live, healthy objects. It returns the first of them that
// is not True, or nil.
func setDeliveryConditions(st *meridiov1.Status, in deliveryInputs) *metav1.Condition {
	set := func(t string, ok bool, reason, msg string) {
		s := metav1.ConditionTrue
		if !ok {
			s = metav1.ConditionFalse
		}
		apimeta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: t, Status: s, Reason: reason, Message: limit(msg), ObservedGeneration: in.generation})
	}
	at := "the current render"
	if in.revision != "" {
		at = in.revision
	}
	committed := true
	switch {
	case !in.commits:
		apimeta.RemoveStatusCondition(&st.Conditions, meridiov1.CommittedCondition)
	case in.deliverErr != nil:
		committed = false
		set(meridiov1.CommittedCondition, false, delivery.ReasonOf(in.deliverErr, meta.ReconciliationFailedReason), in.deliverErr.Error())
	case in.pending:
		committed = false
		set(meridiov1.CommittedCondition, false, meridiov1.CommitPendingReason, "the current render waits to be committed")
	default:
		set(meridiov1.CommittedCondition, true, meridiov1.CommittedReason, "the current render is in "+in.revision)
	}

	var behind, unhealthy []string
	for _, o := range in.objects {
		switch {
		case !o.Applied:
			behind = append(behind, o.ID+" ("+o.Message+")")
		case !o.Current:
			unhealthy = append(unhealthy, o.ID+": "+o.Message)
		}
	}
	applied := committed && len(behind) == 0
	switch {
	case !committed:
		set(meridiov1.AppliedCondition, false, meridiov1.NotAppliedReason, "waiting for the current render to be committed")
	case len(behind) > 0:
		set(meridiov1.AppliedCondition, false, meridiov1.NotAppliedReason, fmt.Sprintf("%d of %d objects are not at %s: %s", len(behind), len(in.objects), at, list(behind)))
	default:
		set(meridiov1.AppliedCondition, true, meridiov1.AppliedReason, fmt.Sprintf("%d objects at %s", len(in.objects), at))
	}
	switch {
	case !applied:
		set(meridiov1.HealthyCondition, false, meridiov1.NotHealthyReason, "waiting for the objects to be applied")
	case len(unhealthy) > 0:
		set(meridiov1.HealthyCondition, false, meridiov1.NotHealthyReason, fmt.Sprintf("%d of %d objects are not ready: %s", len(unhealthy), len(in.objects), list(unhealthy)))
	default:
		set(meridiov1.HealthyCondition, true, meridiov1.HealthyReason, fmt.Sprintf("%d objects ready", len(in.objects)))
	}
	for _, t := range []string{meridiov1.CommittedCondition, meridiov1.AppliedCondition, meridiov1.HealthyCondition} {
		if c := apimeta.FindStatusCondition(st.Conditions, t); c != nil && c.Status != metav1.ConditionTrue {
			return c
		}
	}
	return nil
}

// list joins the first maxListed items and counts the rest.
func list(items []string) string {
	if len(items) <= maxListed {
		return strings.Join(items, "; ")
	}
	return fmt.Sprintf("%s; and %d more", strings.Join(items[:maxListed], "; "), len(items)-maxListed)
}

// limit shortens a condition message to conditionMessageLimit.
func limit(msg string) string { return shorten.To(msg, conditionMessageLimit) }

// observeDelivery records, when Applied or Healthy has just turned True, how long it took from
// the previous step.
func observeDelivery(namespace, trench string, before, after []metav1.Condition, now time.Time) {
	turned := func(t string) bool {
		return apimeta.IsStatusConditionTrue(after, t) && !apimeta.IsStatusConditionTrue(before, t)
	}
	since := func(t string) (time.Duration, bool) {
		c := apimeta.FindStatusCondition(before, t)
		if c == nil || c.Status != metav1.ConditionTrue {
			return 0, false
		}
		return now.Sub(c.LastTransitionTime.Time), true
	}
	if turned(meridiov1.AppliedCondition) {
		if d, ok := since(meridiov1.CommittedCondition); ok {
			commitToApplied.WithLabelValues(namespace, trench).Observe(d.Seconds())
		}
	}
	if turned(meridiov1.HealthyCondition) {
		if c := apimeta.FindStatusCondition(after, meridiov1.AppliedCondition); c != nil {
			appliedToHealthy.WithLabelValues(namespace, trench).Observe(now.Sub(c.LastTransitionTime.Time).Seconds())
		}
	}
}
