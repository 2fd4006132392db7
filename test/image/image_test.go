// Package image tests the container image `make image` builds: it is read from its OCI
// archive, and the binary in it runs.
package image

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meridio-operator/meridio-operator/internal/testutil"
)

// ociIndex, ociManifest and ociConfig are the parts of the OCI image layout read here.
type ociIndex struct {
	Manifests []struct {
		Digest string `json:"digest"`
	} `json:"manifests"`
}

type ociManifest struct {
	Config struct {
		Digest string `json:"digest"`
	} `json:"config"`
	Layers []struct {
		Digest    string `json:"digest"`
		MediaType string `json:"mediaType"`
	} `json:"layers"`
}

type ociConfig struct {
	Config struct {
		User       string   `json:"User"`
		Entrypoint []string `json:"Entrypoint"`
		Cmd        []string `json:"Cmd"`
	} `json:"config"`
}

func TestImage(t *testing.T) {
	if _, err := exec.LookPath("buildah"); err != nil {
		t.Skip("buildah is not installed: `make image` installs it (apt-get install buildah); skipping the image test")
	}
	dir := t.TempDir()
	archive := filepath.Join(dir, "image.tar")
	build := exec.Command(filepath.Join(testutil.RepoRoot(), "hack", "build-image.sh"), "meridio-operator:test", archive, "v0.0.0-test")
	if out, err := build.CombinedOutput(); err != nil {
		if strings.Contains(string(out), "operation not permitted") || strings.Contains(string(out), "cannot") && strings.Contains(string(out), "namespace") {
			t.Skipf("buildah cannot run here: %s", out)
		}
		t.Fatalf("build the image: %v\n%s", err, out)
	}
	info, err := os.Stat(archive)
	require.NoError(t, err)
	t.Logf("image archive: %.1f MiB", float64(info.Size())/(1<<20))

	blobs := readTar(t, archive)
	var index ociIndex
	require.NoError(t, json.Unmarshal(blobs["index.json"], &index))
	require.Len(t, index.Manifests, 1)
	var manifest ociManifest
	require.NoError(t, json.Unmarshal(blobs[blobPath(index.Manifests[0].Digest)], &manifest))
	var cfg ociConfig
	require.NoError(t, json.Unmarshal(blobs[blobPath(manifest.Config.Digest)], &cfg))
	assert.Equal(t, "65532:65532", cfg.Config.User, "runs as a non-root user")
	assert.Equal(t, []string{"/meridio-operator"}, cfg.Config.Entrypoint)

	files := map[string][]byte{}
	for _, l := range manifest.Layers {
		for name, data := range readLayer(t, blobs[blobPath(l.Digest)], l.MediaType) {
			files[name] = data
		}
	}
	var names []string
	for n := range files {
		names = append(names, n)
	}
	assert.Equal(t, []string{"meridio-operator"}, names, "the binary and nothing else: no shell")

	bin := filepath.Join(dir, "meridio-operator")
	require.NoError(t, os.WriteFile(bin, files["meridio-operator"], 0o755))
	out, err := exec.Command(bin, "version").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Equal(t, "v0.0.0-test\n", string(out))
	out, err = exec.Command(bin, "run", "--local").CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "--local is not built into this binary", "the image's binary has no envtest harness")
}

func blobPath(digest string) string { return "blobs/" + strings.Replace(digest, ":", "/", 1) }

// readTar reads every file of a tar archive.
func readTar(t *testing.T, path string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	return readAll(t, tar.NewReader(f))
}

// readLayer reads the regular files of a layer, by name without the leading slash.
func readLayer(t *testing.T, data []byte, mediaType string) map[string][]byte {
	t.Helper()
	var r io.Reader = strings.NewReader(string(data))
	if strings.HasSuffix(mediaType, "gzip") {
		gz, err := gzip.NewReader(r)
		require.NoError(t, err)
		r = gz
	}
	return readAll(t, tar.NewReader(r))
}

func readAll(t *testing.T, tr *tar.Reader) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		require.NoError(t, err)
		if h.Typeflag != tar.TypeReg {
			continue
		}
		data, err := io.ReadAll(tr)
		require.NoError(t, err)
		out[strings.TrimPrefix(strings.TrimPrefix(h.Name, "./"), "/")] = data
	}
}
