package controllers

import (
	"fmt"
	"strings"

	"github.com/fluxcd/pkg/apis/meta"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/delivery"
	"github.com/meridio-operator/meridio-operator/render"
)

// liveState is what the operator knows of one rendered object in the cluster.
type liveState struct {
	// ID is "Kind/name".
	ID string
	// Applied: the object exists and carries the content hash of its render.
	Applied bool
	// Current: the object is applied and (for workloads) kstatus says Current.
	Current bool
	// Message says why it is not current.
	Message string
}

// statusInputs is everything the status of one resource is computed from.
type statusInputs struct {
	generation int64
	// objects are the live states of the objects rendered for the resource.
	objects []liveState
	// problems stop the resource from being rendered as asked (Stalled).
	problems []render.Problem
	// findings are what is admitted but probably wrong: dangling references, address families
	// that do not fit the trench.
	findings []meridiov1.Finding
	// excluded, when set, says why the resource is left out of the configuration.
	excluded string
	// deliverErr failed the delivery of the trench.
	deliverErr error
	// pending: the render is accepted by the sink but not delivered yet.
	pending bool
	// revision is where the render was delivered (Git), for the trench's messages.
	revision string
	// trenchMissing: the trench named by the label does not exist.
	trenchMissing bool
}

// statusInputsFor computes the status inputs of every resource of the trench in s from its
// render (which objects are whose, which object carries the configuration, the problems), the
// live states of the rendered objects by render.ID, and the delivery. Every finding of a
// resource reaches its status. It is pure.
func statusInputsFor(s *meridiov1.Snapshot, res *render.Result, live map[string]liveState, del delivery.Result, deliverErr error) map[render.Owner]statusInputs {
	byOwner := map[render.Owner][]liveState{}
	for _, it := range res.Items {
		byOwner[it.Owner] = append(byOwner[it.Owner], live[render.ID(it.Object)])
	}
	problems := map[render.Owner][]render.Problem{}
	var trenchProblems []render.Problem
	for _, p := range res.Problems {
		problems[p.Owner] = append(problems[p.Owner], p)
		if p.Owner.Kind == "Trench" && (p.Reason == render.ReasonInvalidName || p.Reason == render.ReasonConfigurationTooLarge) {
			trenchProblems = append(trenchProblems, render.Problem{Owner: p.Owner, Reason: p.Reason, Message: "the trench " + p.Message})
		}
	}
	var config []liveState
	if res.Configuration != nil {
		config = []liveState{live[render.ID(res.Configuration)]}
	}
	out := map[render.Owner]statusInputs{}
	for _, o := range resources(s) {
		owner := render.OwnerOf(o)
		in := statusInputs{generation: o.GetGeneration(), problems: problems[owner], findings: o.Findings(s),
			deliverErr: deliverErr, pending: del.Pending, objects: byOwner[owner]}
		switch c := o.(type) {
		case *meridiov1.Trench:
			in.revision = del.Revision
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
		if owner.Kind != "Trench" && len(trenchProblems) > 0 {
			// Nothing of a trench that cannot be rendered or delivered is delivered.
			in.problems = append(in.problems, trenchProblems...)
		}
		out[owner] = in
	}
	return out
}

// conditionMessageLimit keeps condition messages short enough for kubectl output.
const conditionMessageLimit = 512

// computeStatus sets observedGeneration and the Ready, Reconciling and Stalled conditions.
// It is pure: the same inputs give the same status (transition times aside, which
// SetStatusCondition keeps when a condition does not change).
func computeStatus(st *meridiov1.Status, in statusInputs) {
	set := func(t string, s metav1.ConditionStatus, reason, msg string) {
		apimeta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: t, Status: s, Reason: reason, Message: limit(msg), ObservedGeneration: in.generation})
	}
	ready := func(s metav1.ConditionStatus, reason, msg string) { set(meta.ReadyCondition, s, reason, msg) }
	clear := func(types ...string) {
		for _, t := range types {
			apimeta.RemoveStatusCondition(&st.Conditions, t)
		}
	}

	switch {
	case in.trenchMissing:
		ready(metav1.ConditionFalse, meridiov1.TrenchNotFoundReason, "the trench named by the label trench does not exist")
		set(meta.StalledCondition, metav1.ConditionTrue, meridiov1.TrenchNotFoundReason, "waiting for the trench to be created")
		clear(meta.ReconcilingCondition)
		st.ObservedGeneration = in.generation
		return
	case len(in.problems) > 0:
		var msgs []string
		for _, p := range in.problems {
			msgs = append(msgs, p.Message)
		}
		msg := strings.Join(msgs, "; ")
		ready(metav1.ConditionFalse, in.problems[0].Reason, msg)
		set(meta.StalledCondition, metav1.ConditionTrue, in.problems[0].Reason, msg)
		clear(meta.ReconcilingCondition)
		st.ObservedGeneration = in.generation
		return
	case in.deliverErr != nil:
		// The same generation is retried: observedGeneration stays where it was.
		ready(metav1.ConditionFalse, delivery.ReasonOf(in.deliverErr, meta.ReconciliationFailedReason), in.deliverErr.Error())
		set(meta.ReconcilingCondition, metav1.ConditionTrue, meta.ProgressingWithRetryReason, in.deliverErr.Error())
		clear(meta.StalledCondition)
		return
	}
	clear(meta.StalledCondition)
	st.ObservedGeneration = in.generation
	if in.pending {
		msg := "the render is waiting to be delivered"
		ready(metav1.ConditionFalse, meta.ProgressingReason, msg)
		set(meta.ReconcilingCondition, metav1.ConditionTrue, meta.ProgressingReason, msg)
		return
	}

	if msg := waitingFor(in); msg != "" {
		ready(metav1.ConditionFalse, meta.ProgressingReason, msg)
		set(meta.ReconcilingCondition, metav1.ConditionTrue, meta.ProgressingReason, msg)
		return
	}
	clear(meta.ReconcilingCondition)
	switch {
	case in.excluded != "":
		// Left out on purpose (the field is empty, not a dangling reference): that is the state
		// the user asked for, so it is Ready, and kstatus (Flux's wait, Argo CD) sees it Current.
		ready(metav1.ConditionTrue, meridiov1.NotConfiguredReason, in.excluded)
	case len(in.findings) > 0:
		var msgs []string
		for _, f := range in.findings {
			msgs = append(msgs, f.Message)
		}
		ready(metav1.ConditionFalse, in.findings[0].Reason, strings.Join(msgs, "; "))
	case in.revision != "":
		ready(metav1.ConditionTrue, meta.SucceededReason, readyMessage(in.objects)+" at "+in.revision)
	default:
		ready(metav1.ConditionTrue, meta.SucceededReason, readyMessage(in.objects))
	}
}

// waitingFor says which live objects are not current yet, and why ("" when all are).
func waitingFor(in statusInputs) string {
	var waiting []string
	for _, o := range in.objects {
		if !o.Current {
			waiting = append(waiting, o.ID+": "+o.Message)
		}
	}
	if len(waiting) == 0 {
		return ""
	}
	msg := strings.Join(waiting, "; ")
	if in.revision != "" {
		msg = in.revision + " is not live yet: " + msg
	}
	return msg
}

func readyMessage(objects []liveState) string {
	if len(objects) == 1 && strings.HasPrefix(objects[0].ID, "ConfigMap/") {
		return "in the configuration " + strings.TrimPrefix(objects[0].ID, "ConfigMap/")
	}
	return fmt.Sprintf("%d objects ready", len(objects))
}

// liveStateOf judges a live object (nil when absent) against the content hash of its render.
// An object of another render is never ready, whoever applied it.
func liveStateOf(id, renderedHash string, live map[string]any) liveState {
	if live == nil {
		return liveState{ID: id, Message: "not created yet"}
	}
	if hashOf(live) != renderedHash {
		return liveState{ID: id, Message: "not updated yet"}
	}
	res, err := status.Compute(&unstructured.Unstructured{Object: live})
	if err != nil {
		return liveState{ID: id, Applied: true, Message: err.Error()}
	}
	if res.Status != status.CurrentStatus {
		msg := res.Message
		if msg == "" {
			msg = string(res.Status)
		}
		return liveState{ID: id, Applied: true, Message: msg}
	}
	return liveState{ID: id, Applied: true, Current: true}
}

func hashOf(obj map[string]any) string {
	md, _ := obj["metadata"].(map[string]any)
	ann, _ := md["annotations"].(map[string]any)
	h, _ := ann[render.AnnotationHash].(string)
	return h
}
