package testutil

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/meridio-operator/meridio-operator/internal/offline"
	"github.com/meridio-operator/meridio-operator/render"
)

// Render renders every trench of the resources, read as offline render reads them (resources
// without a namespace go in namespace), with the default settings; it fails the test on any
// error.
func Render(t testing.TB, resources []offline.Resource, namespace string) []*render.Result {
	t.Helper()
	snaps, errs := offline.Snapshots(resources, namespace)
	require.Empty(t, errs)
	out := make([]*render.Result, 0, len(snaps))
	for _, s := range snaps {
		res, err := render.Render(s, render.DefaultSettings())
		require.NoError(t, err)
		out = append(out, res)
	}
	return out
}
