package controllers

import (
	"errors"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/stretchr/testify/assert"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/delivery"
)

func TestSetReview(t *testing.T) {
	tr := &meridiov1.Trench{ObjectMeta: metav1.ObjectMeta{Generation: 3}}
	for _, tc := range []struct {
		rv     *delivery.Review
		status metav1.ConditionStatus
		reason string
		msg    string
	}{
		{&delivery.Review{URL: "https://g/pr/7", Number: 7, State: "open"}, metav1.ConditionTrue, meridiov1.PullRequestOpenReason, "pull request #7 is open: https://g/pr/7"},
		{&delivery.Review{URL: "https://g/pr/7", Number: 7, State: "merged"}, metav1.ConditionTrue, meridiov1.PullRequestMergedReason, "pull request #7 is merged: https://g/pr/7"},
		{&delivery.Review{URL: "https://g/pr/7", Number: 7, State: "closed"}, metav1.ConditionFalse, meridiov1.PullRequestClosedReason, "pull request #7 was closed without merging; the next change opens a new one: https://g/pr/7"},
		{&delivery.Review{Err: errors.New("github: ...: 403 API rate limit exceeded")}, metav1.ConditionFalse, meridiov1.PullRequestFailedReason, "github: ...: 403 API rate limit exceeded"},
	} {
		setReview(tr, tc.rv)
		c := apimeta.FindStatusCondition(tr.Status.Conditions, meridiov1.PullRequestCondition)
		if assert.NotNil(t, c) {
			assert.Equal(t, tc.status, c.Status)
			assert.Equal(t, tc.reason, c.Reason)
			assert.Equal(t, tc.msg, c.Message)
			assert.Equal(t, int64(3), c.ObservedGeneration)
		}
	}
	assert.Equal(t, &meridiov1.PullRequestStatus{URL: "https://g/pr/7", Number: 7, State: "closed"}, tr.Status.PullRequest, "a failure keeps the last known pull request")
	setReview(tr, nil)
	assert.Nil(t, tr.Status.PullRequest)
	assert.Nil(t, apimeta.FindStatusCondition(tr.Status.Conditions, meridiov1.PullRequestCondition))
}

func TestOutcome(t *testing.T) {
	cond := func(typ string, s metav1.ConditionStatus, reason, msg string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: s, Reason: reason, Message: msg}
	}
	rev := "meridio-review@sha1:0123"
	committed := delivery.Result{Commits: true, Revision: rev}
	for name, tc := range map[string]struct {
		conds []metav1.Condition
		del   delivery.Result
		err   error
		want  delivery.Outcome
		ok    bool
	}{
		"committed":    {nil, committed, nil, delivery.Outcome{Revision: rev, State: "pending", Description: "committed; waiting for the cluster to apply it"}, true},
		"applied":      {[]metav1.Condition{cond(meridiov1.AppliedCondition, metav1.ConditionTrue, "", "")}, committed, nil, delivery.Outcome{Revision: rev, State: "pending", Description: "applied; waiting for the objects to be ready"}, true},
		"healthy":      {[]metav1.Condition{cond(meridiov1.AppliedCondition, metav1.ConditionTrue, "", ""), cond(meridiov1.HealthyCondition, metav1.ConditionTrue, "", "")}, committed, nil, delivery.Outcome{Revision: rev, State: "success", Description: "applied and healthy"}, true},
		"stalled":      {[]metav1.Condition{cond(meta.StalledCondition, metav1.ConditionTrue, "InvalidSpec", "attractor a has no conduit")}, committed, nil, delivery.Outcome{Revision: rev, State: "failure", Description: "InvalidSpec: attractor a has no conduit"}, true},
		"dry run":      {nil, delivery.Result{Commits: true}, &delivery.Error{Reason: delivery.ReasonDryRunFailed, Err: errors.New("the API server refuses it")}, delivery.Outcome{State: "failure", Description: "the API server refuses it"}, true},
		"pending":      {nil, delivery.Result{Commits: true, Pending: true}, nil, delivery.Outcome{}, false},
		"push failure": {nil, committed, &delivery.Error{Reason: "GitPushFailed", Err: errors.New("unreachable")}, delivery.Outcome{}, false},
	} {
		tr := &meridiov1.Trench{}
		tr.Status.Conditions = tc.conds
		got, ok := outcome(tr, tc.del, tc.err)
		assert.Equal(t, tc.ok, ok, name)
		assert.Equal(t, tc.want, got, name)
	}
}
