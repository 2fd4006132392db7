// Package schema sends what the renderer makes to a real API server: every object of the render
// of a trench that admission accepts must pass the API server's own validation of its kind
// (Deployments, StatefulSets, DaemonSets, Services, PodDisruptionBudgets, ConfigMaps).
package schema

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/internal/fuzzinput"
	"github.com/meridio-operator/meridio-operator/internal/localapi"
	"github.com/meridio-operator/meridio-operator/internal/offline"
	"github.com/meridio-operator/meridio-operator/internal/testutil"
	"github.com/meridio-operator/meridio-operator/render"
)

// c talks to the API server.
var c client.Client

// sharedKubeconfig passes the API server to fuzzing workers: they are processes of their own,
// started with the environment of the one that runs TestMain first, and each starting an API
// server would be slow enough for the fuzzing engine to give up on them.
const sharedKubeconfig = "MERIDIO_SCHEMA_TEST_KUBECONFIG"

func TestMain(m *testing.M) {
	if kc := os.Getenv(sharedKubeconfig); kc != "" {
		cfg, err := clientcmd.RESTConfigFromKubeConfig([]byte(kc))
		if err == nil {
			c, err = client.New(cfg, client.Options{Scheme: localapi.Scheme()})
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(m.Run())
	}
	// No webhook: the rendered kinds are built-in, and their validation is the API server's.
	os.Exit(testutil.Run(m, func(e ...*localapi.Env) error {
		c = e[0].Client
		return os.Setenv(sharedKubeconfig, string(e[0].KubeConfig))
	}, localapi.Options{NoWebhooks: true}))
}

// FuzzRenderAccepted renders random trenches that admission accepts (the values of FuzzRender,
// whose corpus it shares) and creates every rendered object on the API server as a dry run, so
// that nothing is stored and one input cannot collide with another: the API server accepts each
// one.
func FuzzRenderAccepted(f *testing.F) {
	fuzzinput.Fuzz(f, func(t *testing.T, s *meridiov1.Snapshot, set render.Settings) {
		res, err := render.Render(s, set)
		if err != nil {
			t.Fatalf("an admitted trench does not render: %v", err)
		}
		for _, it := range res.Items {
			obj := it.Object.DeepCopyObject().(client.Object)
			if err := c.Create(context.Background(), obj, client.DryRunAll); err != nil {
				t.Errorf("the API server refuses rendered %s %s: %v", it.Object.GetObjectKind().GroupVersionKind().Kind, it.Object.GetName(), err)
			}
		}
	})
}

// TestRenderAccepted_examples creates the render of examples/ (every kind, every option the
// examples show) as a dry run: the API server accepts every object. A rendered object made
// invalid is refused, so the dry run does validate.
func TestRenderAccepted_examples(t *testing.T) {
	ctx := context.Background()
	res, errs := offline.ReadPaths([]string{filepath.Join(testutil.RepoRoot(), "examples")}, nil)
	require.Empty(t, errs)
	renders := testutil.Render(t, res, offline.DefaultNamespace)
	require.NotEmpty(t, renders)
	n := 0
	for _, r := range renders {
		for _, it := range r.Items {
			require.NoError(t, c.Create(ctx, it.Object.DeepCopyObject().(client.Object), client.DryRunAll), it.Object.GetName())
			n++
			if svc, ok := it.Object.(*corev1.Service); ok {
				bad := svc.DeepCopy()
				bad.Spec.Ports[0].Port = 0
				err := c.Create(ctx, bad, client.DryRunAll)
				require.Error(t, err)
				assert.Contains(t, err.Error(), "spec.ports[0].port")
			}
		}
	}
	t.Logf("%d objects of %d trenches accepted", n, len(renders))
}
