package deploy

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the chart under charts/ (make chart)")

// chartVersion is the version of the chart (and of the operator it deploys).
const chartVersion = "0.1.0"

// Test_chartUpToDate: the committed chart is the one Chart generates from config/; run make
// chart (this test with -update) after changing config/ and commit the result.
func Test_chartUpToDate(t *testing.T) {
	files, err := Chart(chartVersion)
	require.NoError(t, err)
	root := filepath.Join("..", "..", ChartDir)
	if *update {
		require.NoError(t, os.RemoveAll(root))
		for p, data := range files {
			require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(root, p), data, 0o644))
		}
	}
	committed := map[string]bool{}
	require.NoError(t, filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		committed[filepath.ToSlash(rel)] = true
		return nil
	}))
	for p, want := range files {
		got, err := os.ReadFile(filepath.Join(root, p))
		require.NoError(t, err, "%s is missing: run make chart", p)
		assert.Equal(t, string(want), string(got), "%s is stale: run make chart", p)
		delete(committed, p)
	}
	assert.Empty(t, committed, "files the generator does not make: run make chart")
}
