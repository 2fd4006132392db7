package render

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestKustomizationResources: what KustomizationFile writes reads back, sorted; a file of
// another kind or no YAML is no kustomization.
func TestKustomizationResources(t *testing.T) {
	got, ok := KustomizationResources(KustomizationFile([]string{"red/b", "red/a"}))
	assert.True(t, ok)
	assert.Equal(t, []string{"red/a", "red/b"}, got)
	_, ok = KustomizationResources([]byte("kind: Component\nresources: [a]\n"))
	assert.False(t, ok)
	_, ok = KustomizationResources([]byte(": not yaml"))
	assert.False(t, ok)
}
