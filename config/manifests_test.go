package config

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Test_generatedManifestsUpToDate runs controller-gen as `make manifests` does, into a temporary
// directory, and fails when a committed file differs: run `make manifests` and commit.
func Test_generatedManifestsUpToDate(t *testing.T) {
	if testing.Short() {
		t.Skip("runs controller-gen")
	}
	tmp := t.TempDir()
	for _, gen := range [][]string{
		{"crd", "paths=../api/...", "output:crd:artifacts:config=" + filepath.Join(tmp, "crd", "bases")},
		{"webhook", "paths=../webhooks/...", "output:webhook:artifacts:config=" + filepath.Join(tmp, "webhook")},
		{"rbac:roleName=role", "paths=../controllers/...", "output:rbac:artifacts:config=" + filepath.Join(tmp, "rbac")},
	} {
		out, err := exec.Command("go", append([]string{"tool", "controller-gen"}, gen...)...).CombinedOutput()
		require.NoError(t, err, "%s", out)
	}
	generated, err := filepath.Glob(filepath.Join(tmp, "*", "*.yaml"))
	require.NoError(t, err)
	more, err := filepath.Glob(filepath.Join(tmp, "crd", "bases", "*.yaml"))
	require.NoError(t, err)
	generated = append(generated, more...)
	require.Len(t, generated, 9, "7 CRDs, the webhook configurations and the role")
	for _, g := range generated {
		rel, err := filepath.Rel(tmp, g)
		require.NoError(t, err)
		want, err := os.ReadFile(g)
		require.NoError(t, err)
		got, err := os.ReadFile(rel)
		require.NoError(t, err, "%s is not committed: run make manifests", rel)
		assert.Equal(t, string(want), string(got), "%s is stale: run make manifests", rel)
	}
}
