package cli

import (
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/blang/semver/v4"

	"github.com/meridio-operator/meridio-operator/internal/deploy"
)

// bundleCommand writes the OLM bundle generated from the embedded config/ (make bundle).
func bundleCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bundle", flag.ContinueOnError)
	fs.SetOutput(stderr)
	version := fs.String("version", deploy.Version, "the operator version the ClusterServiceVersion carries (VERSION)")
	image := fs.String("image", "", "the operator's image (default: config/manager's, meridio-operator:latest) (IMG)")
	dir := fs.String("output-dir", deploy.BundleDir, "the bundle directory: its manifests/ and metadata/ are replaced")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: meridio-operator bundle [--version V] [--image IMG] [--output-dir DIR]")
		fmt.Fprintln(stderr, "Writes an OLM bundle (ClusterServiceVersion, CRDs, metadata, bundle.Dockerfile) generated from config/.")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if !noArguments(fs, stderr, "") {
		return 2
	}
	v, err := semver.Parse(*version)
	if err != nil {
		fmt.Fprintf(stderr, "bundle: version %q: %v\n", *version, err)
		return 2
	}
	files, err := deploy.Bundle(v, *image)
	if err != nil {
		fmt.Fprintln(stderr, "bundle: "+err.Error())
		return 1
	}
	if err := writeBundle(*dir, files); err != nil {
		fmt.Fprintln(stderr, "bundle: "+err.Error())
		return 1
	}
	fmt.Fprintf(stdout, "wrote %d files to %s\n", len(files), *dir)
	return 0
}

// writeBundle replaces the generated parts of dir with files: a CRD no longer in config/ does
// not stay behind in manifests/.
func writeBundle(dir string, files map[string][]byte) error {
	for _, sub := range []string{"manifests", "metadata"} {
		if err := os.RemoveAll(filepath.Join(dir, sub)); err != nil {
			return err
		}
	}
	for _, p := range slices.Sorted(maps.Keys(files)) {
		path := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, files[p], 0o644); err != nil {
			return err
		}
	}
	return nil
}
