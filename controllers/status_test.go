package controllers

import (
	"errors"
	"testing"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/delivery"
	"github.com/meridio-operator/meridio-operator/render"
)

// conditions summarises the conditions as "Type=Status/Reason", ignoring times and messages.
func conditions(st *meridiov1.Status) []string {
	var out []string
	for _, c := range st.Conditions {
		out = append(out, c.Type+"="+string(c.Status)+"/"+c.Reason)
	}
	return out
}

func Test_computeStatus(t *testing.T) {
	ready := []liveState{{ID: "Deployment/a", Current: true}, {ID: "PodDisruptionBudget/a", Current: true}}
	waiting := []liveState{{ID: "Deployment/a", Message: "Replicas: 0/1"}, {ID: "PodDisruptionBudget/a", Current: true}}
	for _, tc := range []struct {
		name     string
		in       statusInputs
		want     []string
		observed int64
	}{
		{"all objects current", statusInputs{generation: 3, objects: ready}, []string{"Ready=True/Succeeded"}, 3},
		{"an object not ready", statusInputs{generation: 3, objects: waiting}, []string{"Ready=False/Progressing", "Reconciling=True/Progressing"}, 3},
		{"apply failed: retried, generation not observed", statusInputs{generation: 3, objects: ready, deliverErr: errors.New("boom")},
			[]string{"Ready=False/ReconciliationFailed", "Reconciling=True/ProgressingWithRetry"}, 1},
		{"render problem stalls", statusInputs{generation: 3, objects: ready, problems: []render.Problem{{Reason: "ResourceTemplateNotFound", Message: "x"}}},
			[]string{"Ready=False/ResourceTemplateNotFound", "Stalled=True/ResourceTemplateNotFound"}, 3},
		{"dangling reference", statusInputs{generation: 3, objects: ready, findings: []meridiov1.Finding{{Reason: meridiov1.StreamNotFoundReason, Message: "x"}}},
			[]string{"Ready=False/StreamNotFound"}, 3},
		{"left out of the configuration", statusInputs{generation: 3, objects: ready, excluded: "no stream"}, []string{"Ready=True/NotConfigured"}, 3},
		{"trench missing", statusInputs{generation: 3, trenchMissing: true}, []string{"Ready=False/TrenchNotFound", "Stalled=True/TrenchNotFound"}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &meridiov1.Status{ObservedGeneration: 1}
			computeStatus(st, tc.in)
			assert.Equal(t, tc.want, conditions(st))
			assert.Equal(t, tc.observed, st.ObservedGeneration)
		})
	}
}

// Test_computeStatus_transitions: conditions that no longer apply are removed, and the
// transition time of an unchanged condition is kept.
func Test_computeStatus_transitions(t *testing.T) {
	st := &meridiov1.Status{}
	computeStatus(st, statusInputs{generation: 1, problems: []render.Problem{{Reason: "InvalidSpec"}}})
	computeStatus(st, statusInputs{generation: 2, objects: []liveState{{ID: "Deployment/a", Message: "Replicas: 0/1"}}})
	assert.Equal(t, []string{"Ready=False/Progressing", "Reconciling=True/Progressing"}, conditions(st))
	first := apimeta.FindStatusCondition(st.Conditions, meta.ReadyCondition).LastTransitionTime
	computeStatus(st, statusInputs{generation: 2, objects: []liveState{{ID: "Deployment/a", Message: "Replicas: 0/1"}}})
	assert.Equal(t, first, apimeta.FindStatusCondition(st.Conditions, meta.ReadyCondition).LastTransitionTime)
	computeStatus(st, statusInputs{generation: 2, objects: []liveState{{ID: "Deployment/a", Current: true}}})
	assert.Equal(t, []string{"Ready=True/Succeeded"}, conditions(st))
	assert.Equal(t, int64(2), apimeta.FindStatusCondition(st.Conditions, meta.ReadyCondition).ObservedGeneration)
	assert.Equal(t, metav1.ConditionTrue, apimeta.FindStatusCondition(st.Conditions, meta.ReadyCondition).Status)
}

func Test_liveStateOf(t *testing.T) {
	rendered := "h1"
	assert.Equal(t, "not created yet", liveStateOf("ConfigMap/x", rendered, nil).Message)
	stale := map[string]any{"kind": "ConfigMap", "metadata": map[string]any{"annotations": map[string]any{render.AnnotationHash: "h0"}}}
	assert.Equal(t, "not updated yet", liveStateOf("ConfigMap/x", rendered, stale).Message)
	live := map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "x", "annotations": map[string]any{render.AnnotationHash: "h1"}}}
	assert.True(t, liveStateOf("ConfigMap/x", rendered, live).Current)
	sts := map[string]any{"apiVersion": "apps/v1", "kind": "StatefulSet",
		"metadata": map[string]any{"name": "x", "generation": int64(1), "annotations": map[string]any{render.AnnotationHash: "h1"}},
		"spec":     map[string]any{"replicas": int64(1)}, "status": map[string]any{"observedGeneration": int64(1), "replicas": int64(0)}}
	got := liveStateOf("StatefulSet/x", rendered, sts)
	assert.False(t, got.Current)
	assert.Contains(t, got.Message, "Replicas")
}

func Test_setDeliveryConditions(t *testing.T) {
	applied := liveState{ID: "ConfigMap/c", Applied: true, Current: true}
	starting := liveState{ID: "Deployment/d", Applied: true, Message: "Replicas: 0/1"}
	old := liveState{ID: "Deployment/d", Message: "not updated yet"}
	rev := "main@sha1:abc"
	for _, tc := range []struct {
		name                     string
		in                       deliveryInputs
		committed, appl, healthy string // condition status, "" for absent
		failing                  string // the reason of the first condition not True
	}{
		{"cluster mode, all ready", deliveryInputs{objects: []liveState{applied}}, "", "True", "True", ""},
		{"cluster mode, starting", deliveryInputs{objects: []liveState{applied, starting}}, "", "True", "False", meridiov1.NotHealthyReason},
		{"waiting for the commit", deliveryInputs{commits: true, pending: true, objects: []liveState{applied, old}}, "False", "False", "False", meridiov1.CommitPendingReason},
		{"push failed", deliveryInputs{commits: true, deliverErr: &delivery.Error{Reason: "GitPushFailed", Err: errors.New("down")}}, "False", "False", "False", "GitPushFailed"},
		{"committed, not applied", deliveryInputs{commits: true, revision: rev, objects: []liveState{applied, old}}, "True", "False", "False", meridiov1.NotAppliedReason},
		{"applied, not healthy", deliveryInputs{commits: true, revision: rev, objects: []liveState{applied, starting}}, "True", "True", "False", meridiov1.NotHealthyReason},
		{"healthy", deliveryInputs{commits: true, revision: rev, objects: []liveState{applied}}, "True", "True", "True", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &meridiov1.Status{}
			failing := setDeliveryConditions(st, tc.in)
			for typ, want := range map[string]string{meridiov1.CommittedCondition: tc.committed, meridiov1.AppliedCondition: tc.appl, meridiov1.HealthyCondition: tc.healthy} {
				c := apimeta.FindStatusCondition(st.Conditions, typ)
				if want == "" {
					assert.Nil(t, c, typ)
					continue
				}
				require.NotNil(t, c, typ)
				assert.Equal(t, metav1.ConditionStatus(want), c.Status, "%s: %s", typ, c.Message)
			}
			if tc.failing == "" {
				assert.Nil(t, failing)
			} else {
				require.NotNil(t, failing)
				assert.Equal(t, tc.failing, failing.Reason)
			}
		})
	}
	st := &meridiov1.Status{}
	setDeliveryConditions(st, deliveryInputs{commits: true, revision: rev, objects: []liveState{applied, old}})
	assert.Equal(t, "1 of 2 objects are not at main@sha1:abc: Deployment/d (not updated yet)", apimeta.FindStatusCondition(st.Conditions, meridiov1.AppliedCondition).Message)
}
