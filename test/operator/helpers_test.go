package operator

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/render"
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

// portsOf is an edit of trench-set documents: the Flow named gets the destination ports given,
// as setFlowPorts gives it.
func portsOf(flow, ports string) func(doc string) string {
	return func(doc string) string {
		if strings.Contains(doc, "name: "+flow+"\n") {
			return strings.Replace(doc, `destination-ports: ["80"]`, `destination-ports: ["`+ports+`"]`, 1)
		}
		return doc
	}
}

// requireConverged waits until the namespace holds exactly the objects the trench sets named
// render to (with the edits applied), each with the render's content.
func requireConverged(t *testing.T, p *process, ns string, trenches []string, timeout time.Duration, edits ...func(doc string) string) {
	t.Helper()
	want := map[string]string{} // ID → content hash
	for _, r := range renders(t, ns, trenches, edits...) {
		for _, it := range r.Items {
			want[render.ID(it.Object)] = it.Object.GetAnnotations()[render.AnnotationHash]
		}
	}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		got := map[string]string{}
		for _, l := range render.KindLists() {
			require.NoError(c, env.Client.List(context.Background(), l, client.InNamespace(ns)))
			items, err := render.Items(l)
			require.NoError(c, err)
			for _, o := range items {
				got[render.ID(o)] = o.GetAnnotations()[render.AnnotationHash]
			}
		}
		assert.Equal(c, want, got)
	}, timeout, 250*time.Millisecond, "converged; logs:\n%s", p.logs)
}

// meridioLists are empty lists of the seven Meridio kinds.
func meridioLists() []client.ObjectList {
	return []client.ObjectList{&meridiov1.TrenchList{}, &meridiov1.AttractorList{}, &meridiov1.GatewayList{}, &meridiov1.VipList{},
		&meridiov1.ConduitList{}, &meridiov1.StreamList{}, &meridiov1.FlowList{}}
}
