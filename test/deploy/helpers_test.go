package deploy

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/meridio-operator/meridio-operator/internal/testutil"
)

const (
	timeout = 10 * time.Second
	tick    = 100 * time.Millisecond
)

func schemaGK(group, kind string) schema.GroupKind { return schema.GroupKind{Group: group, Kind: kind} }

// installCRD installs the CRD of file (as its project ships it) on the test API server, once,
// and waits until its kind is served.
func installCRD(t *testing.T, file string) {
	t.Helper()
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	crd := &apiextensionsv1.CustomResourceDefinition{}
	require.NoError(t, yaml.Unmarshal(data, crd))
	require.NoError(t, client.IgnoreAlreadyExists(env.Client.Create(context.Background(), crd)))
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		_, err := env.Client.RESTMapper().RESTMapping(schemaGK(crd.Spec.Group, crd.Spec.Names.Kind))
		assert.NoError(c, err)
	}, timeout, tick)
}

// kubectlDryRun runs `kubectl apply --dry-run=server -k config/dir` against the test API server
// and returns its output; ok is false when the machine has no kubectl.
func kubectlDryRun(t *testing.T, dir string) (out string, ok bool) {
	t.Helper()
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		return "", false
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, os.WriteFile(kubeconfig, env.KubeConfig, 0o600))
	b, err := exec.Command(kubectl, "--kubeconfig", kubeconfig, "apply", "--dry-run=server", "-k", filepath.Join(testutil.RepoRoot(), "config", dir)).CombinedOutput()
	require.NoError(t, err, "kubectl apply --dry-run=server -k config/%s:\n%s", dir, b)
	return string(b), true
}
