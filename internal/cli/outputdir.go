package cli

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/meridio-operator/meridio-operator/render"
)

// writeTree makes the trench directories under dir exactly the render of results, as git mode
// would commit them. Everything is written to a temporary directory first, so that a failed
// write leaves dir as it was; the trench directories are then swapped in by renames, and the
// root kustomization.yaml last. The trench directories the previous render listed in the root
// kustomization.yaml are ours too: those the render no longer produces are removed. Inside a
// trench directory only the files its previous kustomization.yaml listed are ours; any other
// file, and anything outside the trench directories, is left alone.
func writeTree(dir string, results []*render.Result) error {
	files, err := render.Files(results)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("output directory: %w", err)
	}
	// Inside dir, so that the renames stay on one file system; hidden, so that a render of dir
	// skips it should a crash leave it behind.
	tmp, err := os.MkdirTemp(dir, ".meridio-render-")
	if err != nil {
		return fmt.Errorf("output directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := writeFiles(filepath.Join(tmp, "new"), files); err != nil {
		return err
	}
	newDirs := map[string]bool{}
	for _, res := range results {
		newDirs[render.Dir(res.Namespace, res.Trench)] = true
	}
	dirs := listedResources(filepath.Join(dir, "kustomization.yaml"), isTrenchDir)
	for d := range newDirs {
		dirs = append(dirs, d)
	}
	slices.Sort(dirs)
	dirs = slices.Compact(dirs)
	for _, d := range dirs {
		if err := swapTrenchDir(dir, tmp, d, newDirs[d]); err != nil {
			return err
		}
	}
	if err := os.Rename(filepath.Join(tmp, "new", "kustomization.yaml"), filepath.Join(dir, "kustomization.yaml")); err != nil {
		return fmt.Errorf("output directory: %w", err)
	}
	return nil
}

// writeFile writes one file of the output (a variable, so that a test can make writes fail).
var writeFile = os.WriteFile

// writeFiles writes files (keyed by slash-separated paths) under root.
func writeFiles(root string, files map[string][]byte) error {
	for p, data := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
		if err := writeFile(full, data, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
	}
	return nil
}

// swapTrenchDir replaces the trench directory d of dir with its new render in tmp/new (none
// when rendered is false), moving over the files of the old directory that are not ours.
func swapTrenchDir(dir, tmp, d string, rendered bool) error {
	live := filepath.Join(dir, filepath.FromSlash(d))
	fresh := filepath.Join(tmp, "new", filepath.FromSlash(d))
	ours := map[string]bool{"kustomization.yaml": true}
	for _, f := range listedResources(filepath.Join(live, "kustomization.yaml"), isPlainFile) {
		ours[f] = true
	}
	entries, err := os.ReadDir(live)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("output directory %s: %w", d, err)
	}
	if !rendered {
		// A trench gone from the render: its files go, the directory only when nothing else
		// is left in it.
		for _, e := range entries {
			if ours[e.Name()] {
				if err := os.Remove(filepath.Join(live, e.Name())); err != nil {
					return fmt.Errorf("output directory %s: %w", d, err)
				}
			}
		}
		removeIfEmpty(live)
		removeIfEmpty(filepath.Dir(live))
		return nil
	}
	for _, e := range entries {
		if ours[e.Name()] {
			continue
		}
		if _, err := os.Lstat(filepath.Join(fresh, e.Name())); err == nil {
			continue // a file of the render now: the render's wins
		}
		if err := os.Rename(filepath.Join(live, e.Name()), filepath.Join(fresh, e.Name())); err != nil {
			return fmt.Errorf("output directory %s: %w", d, err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(live), 0o755); err != nil {
		return fmt.Errorf("output directory %s: %w", d, err)
	}
	if entries != nil {
		old := filepath.Join(tmp, "old", filepath.FromSlash(d))
		if err := os.MkdirAll(filepath.Dir(old), 0o755); err != nil {
			return fmt.Errorf("output directory %s: %w", d, err)
		}
		if err := os.Rename(live, old); err != nil {
			return fmt.Errorf("output directory %s: %w", d, err)
		}
	}
	if err := os.Rename(fresh, live); err != nil {
		return fmt.Errorf("output directory %s: %w", d, err)
	}
	return nil
}

// listedResources returns the resources a kustomization.yaml lists that keep passes; none
// when the file is missing or is no kustomization.
func listedResources(file string, keep func(string) bool) []string {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	resources, ok := render.KustomizationResources(data)
	if !ok {
		return nil
	}
	var out []string
	for _, r := range resources {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}

// isTrenchDir reports whether r has the <namespace>/<trench> shape of a trench directory.
func isTrenchDir(r string) bool {
	ns, trench, ok := strings.Cut(r, "/")
	return ok && path.Clean(r) == r && ns != "." && ns != ".." && trench != ".." && !strings.Contains(trench, "/")
}

// isPlainFile reports whether r names a file of its own directory.
func isPlainFile(r string) bool {
	return r != "" && r != "." && r != ".." && !strings.ContainsAny(r, `/\`)
}

// removeIfEmpty removes dir when it holds nothing.
func removeIfEmpty(dir string) {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) == 0 {
		_ = os.Remove(dir)
	}
}
