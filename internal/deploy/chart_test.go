package deploy

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the chart under charts/ and the bundle under bundle/ (make chart, make bundle)")

// Test_chartUpToDate: the committed chart is the one Chart generates from config/; run make
// chart (this test with -update) after changing config/ and commit the result.
func Test_chartUpToDate(t *testing.T) {
	files, err := Chart(Version)
	require.NoError(t, err)
	assertCommitted(t, filepath.Join("..", "..", ChartDir), files, "make chart")
}

// assertCommitted checks that root holds exactly files; with -update it writes them first.
func assertCommitted(t *testing.T, root string, files map[string][]byte, regenerate string) {
	t.Helper()
	if *update {
		require.NoError(t, os.RemoveAll(root))
		writeFiles(t, root, files)
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
		require.NoError(t, err, "%s is missing: run %s", p, regenerate)
		assert.Equal(t, string(want), string(got), "%s is stale: run %s", p, regenerate)
		delete(committed, p)
	}
	assert.Empty(t, committed, "files the generator does not make: run %s", regenerate)
}
