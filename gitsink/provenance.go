package gitsink

import (
	"fmt"
	"io"
	"path"
	"slices"
	"sort"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"sigs.k8s.io/yaml"

	"github.com/meridio-operator/meridio-operator/delivery"
	"github.com/meridio-operator/meridio-operator/render"
)

// ProvenanceFile is the file of a trench directory that names what the directory was rendered
// from and by whom. A dot-file: kustomize does not list it, and comparisons with
// `render --output-dir` leave it out.
const ProvenanceFile = ".meridio.yaml"

// provenanceHeader opens every provenance file.
const provenanceHeader = "# Written by meridio-operator with the files of this directory; do not edit.\n"

// Reasons of refused deliveries.
const (
	// ReasonExternalModification: someone else changed files of the trench's directory; they
	// are not overwritten until the trench's resources change.
	ReasonExternalModification = "ExternalModification"
	// ReasonPathConflict: another operator writes an overlapping directory of the branch.
	ReasonPathConflict = "GitPathConflict"
)

// provenance is the content of a ProvenanceFile.
type provenance struct {
	// Operator is the version of the operator that wrote the directory.
	Operator string `json:"operator,omitempty"`
	// Path is the --git-path of that operator: the directory it owns.
	Path string `json:"path,omitempty"`
	// Trench is "<namespace>/<name>".
	Trench string `json:"trench,omitempty"`
	// Settings is the digest of the settings the render was made with.
	Settings string `json:"settings,omitempty"`
	// Sources are the resources of the trench, with their UID and generation.
	Sources []render.Source `json:"sources,omitempty"`
	// Files maps each file the operator wrote to its blob hash.
	Files map[string]string `json:"files,omitempty"`
}

// WithOperatorVersion names the operator's version in the provenance files.
func WithOperatorVersion(v string) SinkOption { return func(s *Sink) { s.version = v } }

// WithOverwriteExternalChanges lets renders replace files someone else edited, even when the
// trench's resources have not changed.
func WithOverwriteExternalChanges(overwrite bool) SinkOption {
	return func(s *Sink) { s.overwrite = overwrite }
}

// withProvenance adds the provenance file to the files of a trench directory.
func withProvenance(files map[string][]byte, res *render.Result, version, owned string) error {
	p := provenance{
		Operator: version, Path: owned, Trench: render.Dir(res.Namespace, res.Trench),
		Settings: res.SettingsDigest, Sources: res.Sources, Files: map[string]string{},
	}
	for name, data := range files {
		p.Files[name] = plumbing.ComputeHash(plumbing.BlobObject, data).String()
	}
	data, err := yaml.Marshal(p)
	if err != nil {
		return err
	}
	files[ProvenanceFile] = append([]byte(provenanceHeader), data...)
	return nil
}

// rootMarker is the provenance file of the owned directory: it names the path its operator
// owns, so that an operator configured with an overlapping path notices.
func rootMarker(owned string) []byte {
	data, err := yaml.Marshal(provenance{Path: owned})
	if err != nil {
		panic(err) // a struct of strings always marshals
	}
	return append([]byte(provenanceHeader), data...)
}

// readProvenance reads the provenance file of a directory tree; nil when it has none.
func readProvenance(ts treeStore, dir plumbing.Hash) (*object.Tree, *provenance, error) {
	t, err := ts.tree(dir)
	if err != nil {
		return nil, nil, err
	}
	e := entry(t, ProvenanceFile)
	if e == nil {
		return t, nil, nil
	}
	blob, err := object.GetBlob(ts.s, e.Hash)
	if err != nil {
		return t, nil, err
	}
	r, err := blob.Reader()
	if err != nil {
		return t, nil, err
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return t, nil, err
	}
	p := &provenance{}
	if err := yaml.Unmarshal(data, p); err != nil {
		return t, nil, nil // not ours to read: treated as a directory without provenance
	}
	return t, p, nil
}

// outsideEdits lists the files of a directory that differ from what its provenance says the
// operator wrote: changed, added or removed by someone else.
func outsideEdits(t *object.Tree, p *provenance) []string {
	var out []string
	seen := map[string]bool{}
	for _, e := range t.Entries {
		if e.Name == ProvenanceFile {
			continue
		}
		seen[e.Name] = true
		if want, ok := p.Files[e.Name]; !ok || want != e.Hash.String() || e.Mode != filemode.Regular {
			out = append(out, e.Name)
		}
	}
	for name := range p.Files {
		if !seen[name] {
			out = append(out, name+" (removed)")
		}
	}
	sort.Strings(out)
	return out
}

// sameSources tells whether two renders come from the same resources at the same generations.
func sameSources(a, b []render.Source) bool { return slices.Equal(a, b) }

// checkOwnership decides whether c may replace what the branch holds in dir: not when another
// operator wrote it (a path conflict), and not over files someone else edited while the
// trench's resources have not changed (unless overwriting is allowed). It returns the edited
// paths that hold the render back.
func (s *Sink) checkOwnership(dir string, c *change) ([]string, error) {
	s.mu.Lock()
	l, ok := s.landed[dir]
	s.mu.Unlock()
	if !ok {
		return nil, nil
	}
	t, p, err := s.repo.provenance(l.hash)
	if err != nil || p == nil {
		return nil, err // no provenance: an older operator's directory, taken over
	}
	if p.Path != s.repo.path {
		return nil, &delivery.Error{Reason: ReasonPathConflict, Err: fmt.Errorf("%s is written by another operator, whose --git-path is %q (this one's is %q): refusing to write it", path.Join(s.repo.path, dir), p.Path, s.repo.path)}
	}
	edits := outsideEdits(t, p)
	if len(edits) == 0 || s.overwrite || (c.tree != nil && !sameSources(p.Sources, c.sources)) {
		return nil, nil
	}
	return edits, nil
}

// scanConflicts looks for provenance files of other operators in the owned tree (up to the
// depth of a nested instance's trench directories) and in the directories above it.
func (s *Sink) scanConflicts(root, owned plumbing.Hash) error {
	ts := treeStore{s: s.repo.repo.Storer}
	var found []string
	var walk func(h plumbing.Hash, rel string, depth int) error
	walk = func(h plumbing.Hash, rel string, depth int) error {
		t, p, err := readProvenance(ts, h)
		if err != nil {
			return err
		}
		if p != nil && p.Path != s.repo.path {
			found = append(found, fmt.Sprintf("%s (--git-path %q)", path.Join(s.repo.path, rel), p.Path))
		}
		if depth == 0 {
			return nil
		}
		for _, e := range t.Entries {
			if e.Mode == filemode.Dir {
				if err := walk(e.Hash, path.Join(rel, e.Name), depth-1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(owned, "", 4); err != nil {
		return err
	}
	// Directories above the owned one may be another operator's trench directories.
	parts := splitPath(s.repo.path)
	for i := range parts {
		h, err := ts.subtree(root, path.Join(parts[:i+1]...))
		if err != nil {
			return err
		}
		if h.IsZero() {
			break
		}
		_, p, err := readProvenance(ts, h)
		if err != nil {
			return err
		}
		if p != nil && p.Path != s.repo.path {
			found = append(found, fmt.Sprintf("%s (--git-path %q)", path.Join(parts[:i+1]...), p.Path))
		}
	}
	if len(found) > 0 {
		return &delivery.Error{Reason: ReasonPathConflict, Err: fmt.Errorf("another operator writes inside or around --git-path %q: %v; refusing to write until the paths no longer overlap", s.repo.path, found)}
	}
	return nil
}
