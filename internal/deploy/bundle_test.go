package deploy

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/blang/semver/v4"
	"github.com/operator-framework/api/pkg/manifests"
	"github.com/operator-framework/api/pkg/validation"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Test_bundleUpToDate: the committed bundle is the one Bundle generates from config/; run make
// bundle after changing config/ and commit the result.
func Test_bundleUpToDate(t *testing.T) {
	files, err := Bundle(semver.MustParse(Version), "")
	require.NoError(t, err)
	assertCommitted(t, filepath.Join("..", "..", BundleDir), files, "make bundle")
}

// Test_bundleValid: the bundle loads as OLM loads it, and operator-framework's validators
// (those of operator-sdk bundle validate, and its good-practice and object checks) find nothing.
func Test_bundleValid(t *testing.T) {
	files, err := Bundle(semver.MustParse("1.2.3"), "registry.example/meridio-operator:1.2.3")
	require.NoError(t, err)
	dir := t.TempDir()
	writeFiles(t, dir, files)

	b, err := manifests.GetBundleFromDir(dir)
	require.NoError(t, err)
	require.NotNil(t, b.CSV)
	assert.Equal(t, "meridio-operator.v1.2.3", b.CSV.Name)
	assert.Len(t, b.V1CRDs, 7, "the seven kinds")
	owned := map[string]bool{}
	for _, d := range b.CSV.Spec.CustomResourceDefinitions.Owned {
		owned[d.Kind] = true
	}
	assert.Equal(t, map[string]bool{"Trench": true, "Attractor": true, "Gateway": true, "Vip": true, "Conduit": true, "Stream": true, "Flow": true}, owned)
	assert.Equal(t, "registry.example/meridio-operator:1.2.3", b.CSV.Spec.InstallStrategy.StrategySpec.DeploymentSpecs[0].Spec.Template.Spec.Containers[0].Image)
	assert.Len(t, b.CSV.Spec.WebhookDefinitions, 8, "seven validating webhooks and the Gateway defaulting one")
	for _, w := range b.CSV.Spec.WebhookDefinitions {
		assert.Equal(t, "meridio-operator", w.DeploymentName, w.GenerateName)
		assert.EqualValues(t, 9443, w.TargetPort.IntValue(), w.GenerateName)
	}
	for _, v := range b.CSV.Spec.InstallStrategy.StrategySpec.DeploymentSpecs[0].Spec.Template.Spec.Volumes {
		assert.NotEqual(t, certVolume, v.Name, "OLM mounts the webhook certificate itself")
	}

	validators := append(validation.DefaultBundleValidators, validation.GoodPracticesValidator, validation.ObjectValidator,
		validation.StandardCapabilitiesValidator, validation.StandardCategoriesValidator)
	for _, r := range validators.Validate(b, b.CSV) {
		for _, e := range r.Errors {
			t.Errorf("%s: %s", r.Name, e)
		}
		for _, w := range r.Warnings {
			t.Errorf("%s: warning: %s", r.Name, w)
		}
	}
}

// writeFiles writes generated files (paths relative to dir) into dir.
func writeFiles(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for p, data := range files {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, p), data, 0o644))
	}
}

// Test_bundleRefusesUnplacedKinds: a kind config/ gains that the CSV has no place for stops the
// generation, naming it, instead of being left out of the bundle.
func Test_bundleRefusesUnplacedKinds(t *testing.T) {
	objs, err := Manifests(Options{})
	require.NoError(t, err)
	extra := &unstructured.Unstructured{}
	extra.SetAPIVersion("rbac.authorization.k8s.io/v1")
	extra.SetKind("ClusterRole")
	extra.SetName("meridio-metrics-reader")
	v, err := semver.Parse(Version)
	require.NoError(t, err)
	_, _, err = clusterServiceVersion(append(objs, extra), v)
	require.EqualError(t, err, "ClusterRole meridio-metrics-reader: no place for this kind in the bundle")
}
