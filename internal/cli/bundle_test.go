package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Test_bundleCommand: bundle writes the CSV, the CRDs, the metadata and the Dockerfile, and
// drops a manifest it no longer generates; a version that is not semantic is refused.
func Test_bundleCommand(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "manifests", "meridio.nordix.org_gone.yaml")
	require.NoError(t, os.MkdirAll(filepath.Dir(stale), 0o755))
	require.NoError(t, os.WriteFile(stale, []byte("kind: CustomResourceDefinition\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "README.md"), []byte("mine\n"), 0o644))

	code, out, stderr := runCLI("", "bundle", "--version", "0.2.0", "--image", "registry.example/op:0.2.0", "--output-dir", dir)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "wrote 10 files to "+dir+"\n", out)
	assert.NoFileExists(t, stale)
	assert.FileExists(t, filepath.Join(dir, "README.md"), "files beside manifests/ and metadata/ stay")
	assert.FileExists(t, filepath.Join(dir, "metadata", "annotations.yaml"))
	assert.FileExists(t, filepath.Join(dir, "bundle.Dockerfile"))
	csv, err := os.ReadFile(filepath.Join(dir, "manifests", "meridio-operator.clusterserviceversion.yaml"))
	require.NoError(t, err)
	assert.Contains(t, string(csv), "name: meridio-operator.v0.2.0")
	assert.Contains(t, string(csv), "image: registry.example/op:0.2.0")

	code, out, stderr = runCLI("", "bundle", "--version", "v1", "--output-dir", dir)
	assert.Equal(t, 2, code)
	assert.Empty(t, out)
	assert.Equal(t, "bundle: version \"v1\": No Major.Minor.Patch elements found\n", stderr)
}
