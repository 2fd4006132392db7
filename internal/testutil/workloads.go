package testutil

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// MarkReady writes the status the kube controllers would write for a ready Deployment,
// StatefulSet or DaemonSet: no kube-controller-manager runs in the tests.
func MarkReady(ctx context.Context, c client.Client, obj client.Object) error {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		r := *o.Spec.Replicas
		o.Status = appsv1.DeploymentStatus{
			ObservedGeneration: o.Generation, Replicas: r, UpdatedReplicas: r, ReadyReplicas: r, AvailableReplicas: r,
			Conditions: []appsv1.DeploymentCondition{
				{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue},
				{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable"},
			},
		}
	case *appsv1.StatefulSet:
		r := *o.Spec.Replicas
		o.Status = appsv1.StatefulSetStatus{
			ObservedGeneration: o.Generation, Replicas: r, ReadyReplicas: r, CurrentReplicas: r, UpdatedReplicas: r, AvailableReplicas: r,
			CurrentRevision: "r1", UpdateRevision: "r1",
		}
	case *appsv1.DaemonSet:
		o.Status = appsv1.DaemonSetStatus{
			ObservedGeneration: o.Generation, DesiredNumberScheduled: 2, CurrentNumberScheduled: 2, UpdatedNumberScheduled: 2,
			NumberAvailable: 2, NumberReady: 2,
		}
	default:
		return fmt.Errorf("mark %T ready: not a workload", obj)
	}
	return c.Status().Update(ctx, obj)
}
