package offline

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const trench = `apiVersion: meridio.nordix.org/v1alpha1
kind: Trench
metadata: {name: t}
spec: {ip-family: dualstack}
`

const flux = `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: fleet}
spec: {url: https://example.com/fleet.git}
---
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [a]
`

// Test_readDirectorySkipsOtherGroups: a directory, read recursively, may hold other manifests
// (examples/ holds Flux and Argo CD objects); a file named explicitly must not.
func Test_readDirectorySkipsOtherGroups(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "flux"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "trench.yaml"), []byte(trench), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "flux", "fleet.yaml"), []byte(flux), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "flux", "mixed.yaml"), []byte(flux+"---\n"+trench), 0o644))

	res, notes, errs := ReadPathsNoting([]string{dir}, nil)
	require.Empty(t, errs)
	require.Len(t, res, 2)
	assert.Equal(t, []string{
		"skipped " + filepath.Join(dir, "flux", "fleet.yaml") + "#1: source.toolkit.fluxcd.io/v1 GitRepository is not a Meridio resource",
		"skipped " + filepath.Join(dir, "flux", "fleet.yaml") + "#2: kustomize.config.k8s.io/v1beta1 Kustomization is not a Meridio resource",
		"skipped " + filepath.Join(dir, "flux", "mixed.yaml") + "#1: source.toolkit.fluxcd.io/v1 GitRepository is not a Meridio resource",
		"skipped " + filepath.Join(dir, "flux", "mixed.yaml") + "#2: kustomize.config.k8s.io/v1beta1 Kustomization is not a Meridio resource",
	}, notes, "one line per skipped document")
	assert.Equal(t, filepath.Join(dir, "flux", "mixed.yaml")+"#3", res[0].Source)
	assert.Equal(t, filepath.Join(dir, "trench.yaml"), res[1].Source)

	_, errs = ReadPaths([]string{filepath.Join(dir, "flux", "fleet.yaml")}, nil)
	require.Len(t, errs, 2, "named explicitly, every document must be a Meridio resource")
	assert.Equal(t, filepath.Join(dir, "flux", "fleet.yaml")+`#1: kind "GitRepository" of apiVersion "source.toolkit.fluxcd.io/v1" is not a Meridio resource (want Trench, Attractor, Gateway, Vip, Conduit, Stream or Flow of meridio.nordix.org/v1alpha1)`, errs[0].Error())

	// A Meridio document with a wrong kind is still reported inside a directory.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "typo.yaml"), []byte("apiVersion: meridio.nordix.org/v1alpha1\nkind: Trenh\nmetadata: {name: x}\n"), 0o644))
	_, errs = ReadPaths([]string{dir}, nil)
	require.Len(t, errs, 1)
	assert.Equal(t, filepath.Join(dir, "typo.yaml")+`#1: kind "Trenh" of apiVersion "meridio.nordix.org/v1alpha1" is not a Meridio resource (want Trench, Attractor, Gateway, Vip, Conduit, Stream or Flow of meridio.nordix.org/v1alpha1)`, errs[0].Error())
}
