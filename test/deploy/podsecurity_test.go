package deploy

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Test_managerPodSecurityRestricted creates the manager's pod, from the Deployment template of
// each deployable base, with a server-side dry run in a namespace that enforces Pod Security
// "restricted"; it must be admitted, and name no runAsUser (OpenShift's restricted SCC assigns
// one).
func Test_managerPodSecurityRestricted(t *testing.T) {
	ctx := context.Background()
	for i, dir := range []string{"default", "git", "git-verify", "spire"} {
		t.Run(dir, func(t *testing.T) {
			ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("restricted-%d", i), Labels: map[string]string{
				"pod-security.kubernetes.io/enforce":         "restricted",
				"pod-security.kubernetes.io/enforce-version": "latest",
			}}}
			require.NoError(t, env.Client.Create(ctx, ns))
			var d appsv1.Deployment
			for _, o := range build(t, dir) {
				if o.GetKind() == "Deployment" {
					fromUnstructured(t, o, &d)
				}
			}
			require.NotEmpty(t, d.Name)
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "manager", Namespace: ns.Name}, Spec: d.Spec.Template.Spec}
			pod.Spec.ServiceAccountName = "" // the account is not created here
			require.NoError(t, env.Client.Create(ctx, pod, client.DryRunAll), "Pod Security restricted")
			assert.Nil(t, pod.Spec.SecurityContext.RunAsUser)
			for _, c := range pod.Spec.Containers {
				assert.Nil(t, c.SecurityContext.RunAsUser, c.Name)
			}

			// The same pod without the hardening is refused: the namespace really enforces.
			loose := pod.DeepCopy()
			loose.ResourceVersion = ""
			loose.Spec.SecurityContext.SeccompProfile = nil
			require.Error(t, env.Client.Create(ctx, loose, client.DryRunAll))
		})
	}
}
