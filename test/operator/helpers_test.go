package operator

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
)

// namespaceAndKubeconfig creates the namespace and writes an administrator's kubeconfig for
// the binary; it returns the kubeconfig's path.
func namespaceAndKubeconfig(t *testing.T, ns string) string {
	t.Helper()
	require.NoError(t, env.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, os.WriteFile(kubeconfig, env.KubeConfig, 0o600))
	return kubeconfig
}

// setFlowPorts changes the destination ports of a Flow.
func setFlowPorts(t *testing.T, ns, name string, ports ...string) {
	t.Helper()
	require.NoError(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		f := &meridiov1.Flow{}
		if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, f); err != nil {
			return err
		}
		f.Spec.DestinationPorts = ports
		return env.Client.Update(context.Background(), f)
	}))
}
