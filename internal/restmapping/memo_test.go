package restmapping

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// counting counts the RESTMapping questions that reach the mapper.
type counting struct {
	meta.RESTMapper
	asked int
}

func (c *counting) RESTMapping(gk schema.GroupKind, versions ...string) (*meta.RESTMapping, error) {
	c.asked++
	return c.RESTMapper.RESTMapping(gk, versions...)
}

func TestMemoize(t *testing.T) {
	deployment := schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
	known := meta.NewDefaultRESTMapper(nil)
	known.Add(deployment, meta.RESTScopeNamespace)
	c := &counting{RESTMapper: known}
	m := Memoize(c)

	for range 3 {
		mapping, err := m.RESTMapping(deployment.GroupKind(), "v1")
		require.NoError(t, err)
		assert.Equal(t, meta.RESTScopeNameNamespace, mapping.Scope.Name())
		assert.Equal(t, "deployments", mapping.Resource.Resource)
	}
	assert.Equal(t, 1, c.asked, "the mapper is asked once")

	_, err := m.RESTMapping(deployment.GroupKind(), "v2")
	require.Error(t, err, "another version is another question")
	cron := schema.GroupVersionKind{Group: "batch", Version: "v1", Kind: "CronJob"}
	_, err = m.RESTMapping(cron.GroupKind(), "v1")
	require.Error(t, err)
	known.Add(cron, meta.RESTScopeNamespace) // installed later
	mapping, err := m.RESTMapping(cron.GroupKind(), "v1")
	require.NoError(t, err, "a failure is not remembered")
	assert.Equal(t, "cronjobs", mapping.Resource.Resource)
	assert.Equal(t, 4, c.asked)

	kinds, err := m.KindsFor(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"})
	require.NoError(t, err, "the other questions go to the mapper")
	assert.Equal(t, []schema.GroupVersionKind{deployment}, kinds)
}
