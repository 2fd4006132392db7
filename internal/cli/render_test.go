package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func runCLI(stdin string, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = Main(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func Test_renderExamples(t *testing.T) {
	code, out, stderr := runCLI("", "render", "-f", "../../examples")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, 36, strings.Count(out, "\nkind: "), "9 objects for each of the 4 example trenches")
	for _, name := range []string{"meridio-configuration-trench-a", "stateless-lb-frontend-v4-attractor", "proxy-v6-conduit", "pdb-m-attractor"} {
		assert.Contains(t, out, "name: "+name)
	}
	code, again, _ := runCLI("", "render", "-f", "../../examples")
	require.Equal(t, 0, code)
	assert.Equal(t, out, again, "the same input gives the same bytes")
}

func Test_renderJSONFromStdin(t *testing.T) {
	data, err := os.ReadFile("../../examples/trench-a.yaml")
	require.NoError(t, err)
	code, out, stderr := runCLI(string(data), "render", "-f", "-", "-n", "ns1", "-o", "json")
	require.Equal(t, 0, code, stderr)
	var list struct {
		Items []struct {
			Kind     string                     `json:"kind"`
			Metadata struct{ Namespace string } `json:"metadata"`
		} `json:"items"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &list))
	require.Len(t, list.Items, 9)
	for _, it := range list.Items {
		assert.Equal(t, "ns1", it.Metadata.Namespace)
	}
}

func Test_renderOutputDir(t *testing.T) {
	dir := t.TempDir()
	code, out, stderr := runCLI("", "render", "-f", "../../examples/trench-a.yaml", "-f", "../../examples/ipv6-static-bfd.yaml", "--output-dir", dir)
	require.Equal(t, 0, code, stderr)
	assert.Empty(t, out)
	root, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	require.NoError(t, err)
	assert.Equal(t, "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- default/trench-a\n- default/trench-v6\n", string(root))
	entries, err := os.ReadDir(filepath.Join(dir, "default", "trench-a"))
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	assert.Equal(t, []string{
		"configmap-meridio-configuration-trench-a.yaml", "daemonset-proxy-conduit-stateless.yaml", "deployment-nse-vlan-attr1.yaml",
		"deployment-stateless-lb-frontend-attr1.yaml", "kustomization.yaml", "poddisruptionbudget-pdb-attr1.yaml",
		"service-ipam-service-trench-a.yaml", "service-nsp-service-trench-a.yaml", "statefulset-ipam-trench-a.yaml", "statefulset-nsp-trench-a.yaml",
	}, names)
}

// Test_renderInvalidInput: every problem is reported on its own line with file, object and
// field, the exit code is 1, and nothing is printed or written.
func Test_renderInvalidInput(t *testing.T) {
	bad := `apiVersion: meridio.nordix.org/v1alpha1
kind: Trench
metadata: {name: t}
spec: {ip-family: ipv5}
---
apiVersion: meridio.nordix.org/v1alpha1
kind: Vip
metadata: {name: v, labels: {trench: t}}
spec: {address: 10.0.0.1/24}
---
apiVersion: meridio.nordix.org/v1alpha1
kind: Flow
metadata: {name: f, labels: {trench: elsewhere}}
spec: {vips: [v], protocols: [tcp], priority: 1}
---
apiVersion: meridio.nordix.org/v1alpha1
kind: Stream
metadata: {name: s, labels: {trench: t}}
spec: {max-targets: "many"}
---
apiVersion: meridio.nordix.org/v1alpha1
kind: Conduit
metadata: {name: c, labels: {trench: t}}
spec: {unknown-field: 1}
`
	dir := t.TempDir()
	file := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(file, []byte(bad), 0o644))
	out := filepath.Join(dir, "out")
	code, stdout, stderr := runCLI("", "render", "-f", file, "--output-dir", out)
	assert.Equal(t, 1, code)
	assert.Empty(t, stdout)
	_, err := os.Stat(out)
	assert.True(t, os.IsNotExist(err), "nothing is written")
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	require.Len(t, lines, 5, stderr)
	for i, want := range []string{
		// The CRD schema's verdict, as the API server gives it, then the webhooks'.
		file + "#1: Trench t: spec.ip-family: Unsupported value: \"ipv5\"",
		file + "#2: Vip v: spec.address: Invalid value: \"10.0.0.1/24\": host bits set: write the network address of the prefix, as in 10.0.0.0/24 for 10.0.0.1/24",
		file + "#4: Stream s: spec.max-targets: Invalid value: \"string\": spec.max-targets in body must be of type integer",
		file + "#5: Conduit c: spec.unknown-field: Invalid value: unknown field",
		file + "#3: Flow default/f: metadata.labels[trench]",
	} {
		assert.True(t, strings.HasPrefix(lines[i], want), "line %d: %q does not start with %q", i, lines[i], want)
	}
}

func Test_usage(t *testing.T) {
	code, _, stderr := runCLI("", "render")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "usage: meridio-operator render")
	code, _, _ = runCLI("", "bogus")
	assert.Equal(t, 2, code)
}

// Test_renderMixedDirectory: a directory that also holds other manifests (a kustomize base,
// Flux objects) renders its Meridio resources and says on stderr what it skipped.
func Test_renderMixedDirectory(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "trench.yaml"), []byte("apiVersion: meridio.nordix.org/v1alpha1\nkind: Trench\nmetadata: {name: t}\nspec: {ip-family: ipv4}\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "cm.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\n"), 0o644))
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, Main([]string{"render", "-f", dir}, nil, &stdout, &stderr), stderr.String())
	assert.Contains(t, stdout.String(), "name: meridio-configuration-t")
	assert.Equal(t, "skipped "+filepath.Join(dir, "cm.yaml")+"#1: v1 ConfigMap is not a Meridio resource\n", stderr.String())
}

// Test_renderOutputDirAgain: rendering again into the same directory leaves exactly the new
// render in the trench directories: the files of a renamed attractor and of a removed trench go,
// and the files the render never wrote (inside a trench directory or beside them) stay.
func Test_renderOutputDirAgain(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	code, _, stderr := runCLI("", "render", "-f", "../../examples/trench-a.yaml", "-f", "../../examples/ipv6-static-bfd.yaml", "--output-dir", out)
	require.Equal(t, 0, code, stderr)
	user := map[string]string{
		"README.md":                  "ours, not the operator's\n",
		"other/app.yaml":             "kind: ConfigMap\n",
		"default/trench-a/NOTES.md":  "notes kept beside the render\n",
		"default/elsewhere/keep.txt": "not a trench directory of the render\n",
	}
	for p, data := range user {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(out, p)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(out, p), []byte(data), 0o644))
	}
	src, err := os.ReadFile("../../examples/trench-a.yaml")
	require.NoError(t, err)
	renamed := filepath.Join(dir, "trench-a.yaml")
	require.NoError(t, os.WriteFile(renamed, []byte(strings.ReplaceAll(string(src), "attr1", "attr9")), 0o644))

	code, _, stderr = runCLI("", "render", "-f", renamed, "--output-dir", out)
	require.Equal(t, 0, code, stderr)

	got := treeOf(t, out)
	for p, data := range user {
		assert.Equal(t, data, got[p], p)
	}
	fresh := filepath.Join(dir, "fresh")
	code, _, stderr = runCLI("", "render", "-f", renamed, "--output-dir", fresh)
	require.Equal(t, 0, code, stderr)
	want := treeOf(t, fresh)
	for p := range user {
		delete(got, p)
	}
	assert.Equal(t, want, got, "the trench directories hold the render and nothing of the previous one")
	_, err = os.Stat(filepath.Join(out, "default", "trench-v6"))
	assert.True(t, os.IsNotExist(err), "the removed trench's directory is gone")
}

// Test_renderOutputDirFailedWrite: a write that fails half-way leaves the output directory as
// it was.
func Test_renderOutputDirFailedWrite(t *testing.T) {
	out := t.TempDir()
	code, _, stderr := runCLI("", "render", "-f", "../../examples/trench-a.yaml", "--output-dir", out)
	require.Equal(t, 0, code, stderr)
	before := treeOf(t, out)

	written := 0
	writeFile = func(name string, data []byte, perm os.FileMode) error {
		if written++; written > 3 {
			return errors.New("no space left on device")
		}
		return os.WriteFile(name, data, perm)
	}
	defer func() { writeFile = os.WriteFile }()
	code, _, stderr = runCLI("", "render", "-f", "../../examples/trench-a.yaml", "-f", "../../examples/ipv6-static-bfd.yaml", "--output-dir", out)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "no space left on device")
	assert.Equal(t, before, treeOf(t, out), "nothing changed, no temporary directory left")
}

// treeOf returns every file under dir by its slash-separated path.
func treeOf(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = string(data)
		return err
	}))
	return files
}
