package gitsink

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"

	"github.com/meridio-operator/meridio-operator/render"
)

// Trees are built in the object store, never in a work tree: a commit rewrites the trees on
// the path from the root to the changed trench directories and nothing else, so its cost does
// not grow with the repository (go-git's Worktree.Add and Status hash every file).

// dirTree is the content of one trench directory, as Git objects not yet stored (or, with
// only hash set, already stored).
type dirTree struct {
	tree  *object.Tree
	hash  plumbing.Hash
	blobs map[plumbing.Hash][]byte
}

// newDirTree computes the Git tree of a trench directory's files (plain names to content).
func newDirTree(files map[string][]byte) (*dirTree, error) {
	d := &dirTree{tree: &object.Tree{}, blobs: map[plumbing.Hash][]byte{}}
	for name, data := range files {
		if name == "" || name != path.Base(name) || name == "." || name == ".." {
			return nil, fmt.Errorf("file %q is not a plain name", name)
		}
		h := plumbing.ComputeHash(plumbing.BlobObject, data)
		d.blobs[h] = data
		d.tree.Entries = append(d.tree.Entries, object.TreeEntry{Name: name, Mode: filemode.Regular, Hash: h})
	}
	sortEntries(d.tree.Entries)
	var err error
	d.hash, err = hashTree(d.tree)
	return d, err
}

// sortEntries orders tree entries as Git does: a directory sorts as if its name ended in "/".
func sortEntries(es []object.TreeEntry) {
	key := func(e object.TreeEntry) string {
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	sort.Slice(es, func(i, j int) bool { return key(es[i]) < key(es[j]) })
}

// hashTree returns the hash a tree would be stored under.
func hashTree(t *object.Tree) (plumbing.Hash, error) {
	o := &plumbing.MemoryObject{}
	if err := t.Encode(o); err != nil {
		return plumbing.ZeroHash, err
	}
	return o.Hash(), nil
}

// treeStore reads and writes trees and blobs of one object storer.
type treeStore struct {
	s storer.EncodedObjectStorer
	// written, when set, collects every object a commit is made of that is not already in
	// its parent (whether or not the store had it): what a push must send.
	written *[]plumbing.Hash
	// listed, when set, remembers which directory trees hold a kustomization.yaml: trees
	// never change, and reading a thousand of them at every commit would cost more than the
	// rest of the commit.
	listed map[plumbing.Hash]bool
}

// holdsKustomization tells whether the directory tree h holds a kustomization.yaml.
func (ts treeStore) holdsKustomization(h plumbing.Hash) (bool, error) {
	if v, ok := ts.listed[h]; ok {
		return v, nil
	}
	d, err := ts.tree(h)
	if err != nil {
		return false, err
	}
	v := entry(d, "kustomization.yaml") != nil
	if ts.listed != nil {
		ts.listed[h] = v
	}
	return v, nil
}

// tree reads a tree; the zero hash reads as an empty tree.
func (ts treeStore) tree(h plumbing.Hash) (*object.Tree, error) {
	if h.IsZero() {
		return &object.Tree{}, nil
	}
	t, err := object.GetTree(ts.s, h)
	if err != nil {
		return nil, fmt.Errorf("read tree %s: %w", h, err)
	}
	return t, nil
}

// putTree stores a tree (entries sorted) and returns its hash.
func (ts treeStore) putTree(t *object.Tree) (plumbing.Hash, error) {
	sortEntries(t.Entries)
	o := ts.s.NewEncodedObject()
	if err := t.Encode(o); err != nil {
		return plumbing.ZeroHash, err
	}
	return ts.put(o)
}

// putBlob stores a blob and returns its hash.
func (ts treeStore) putBlob(data []byte) (plumbing.Hash, error) {
	o := ts.s.NewEncodedObject()
	o.SetType(plumbing.BlobObject)
	o.SetSize(int64(len(data)))
	w, err := o.Writer()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if _, err := w.Write(data); err != nil {
		return plumbing.ZeroHash, err
	}
	if err := w.Close(); err != nil {
		return plumbing.ZeroHash, err
	}
	return ts.put(o)
}

// put stores o unless the store already has it.
func (ts treeStore) put(o plumbing.EncodedObject) (plumbing.Hash, error) {
	if ts.written != nil {
		*ts.written = append(*ts.written, o.Hash())
	}
	if ts.s.HasEncodedObject(o.Hash()) == nil {
		return o.Hash(), nil
	}
	return ts.s.SetEncodedObject(o)
}

// putDir stores a trench directory's blobs and tree.
func (ts treeStore) putDir(d *dirTree) error {
	for _, data := range d.blobs {
		if _, err := ts.putBlob(data); err != nil {
			return err
		}
	}
	h, err := ts.putTree(&object.Tree{Entries: append([]object.TreeEntry(nil), d.tree.Entries...)})
	if err == nil && h != d.hash {
		err = fmt.Errorf("stored tree %s, expected %s", h, d.hash)
	}
	return err
}

// entry returns the entry called name, or nil.
func entry(t *object.Tree, name string) *object.TreeEntry {
	for i := range t.Entries {
		if t.Entries[i].Name == name {
			return &t.Entries[i]
		}
	}
	return nil
}

// setEntry puts, replaces or (zero hash) removes the entry called name.
func setEntry(t *object.Tree, name string, mode filemode.FileMode, h plumbing.Hash) {
	for i := range t.Entries {
		if t.Entries[i].Name == name {
			if h.IsZero() {
				t.Entries = append(t.Entries[:i], t.Entries[i+1:]...)
			} else {
				t.Entries[i] = object.TreeEntry{Name: name, Mode: mode, Hash: h}
			}
			return
		}
	}
	if !h.IsZero() {
		t.Entries = append(t.Entries, object.TreeEntry{Name: name, Mode: mode, Hash: h})
	}
}

// subtree returns the hash of the tree at p (slash-separated) under root; zero when absent.
func (ts treeStore) subtree(root plumbing.Hash, p string) (plumbing.Hash, error) {
	h := root
	for _, part := range splitPath(p) {
		t, err := ts.tree(h)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		e := entry(t, part)
		if e == nil || e.Mode != filemode.Dir {
			return plumbing.ZeroHash, nil
		}
		h = e.Hash
	}
	return h, nil
}

// splitPath splits a slash-separated path, "." and "" being the root.
func splitPath(p string) []string {
	p = strings.Trim(path.Clean("/"+p), "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// replaceSubtree returns the root tree with the tree at p replaced by h (zero removes it, and
// directories left empty go too).
func (ts treeStore) replaceSubtree(root plumbing.Hash, p string, h plumbing.Hash) (plumbing.Hash, error) {
	parts := splitPath(p)
	if len(parts) == 0 {
		return h, nil
	}
	t, err := ts.tree(root)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	child := plumbing.ZeroHash
	if e := entry(t, parts[0]); e != nil && e.Mode == filemode.Dir {
		child = e.Hash
	}
	newChild, err := ts.replaceSubtree(child, path.Join(parts[1:]...), h)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	setEntry(t, parts[0], filemode.Dir, newChild)
	if len(t.Entries) == 0 {
		return plumbing.ZeroHash, nil
	}
	return ts.putTree(t)
}

// trenchDirs lists the trench directories ("<namespace>/<trench>") of an owned tree, with the
// hash of each.
func (ts treeStore) trenchDirs(owned plumbing.Hash) (map[string]plumbing.Hash, error) {
	root, err := ts.tree(owned)
	if err != nil {
		return nil, err
	}
	return ts.trenchDirsOf(root)
}

// trenchDirsOf is trenchDirs of a tree read already.
func (ts treeStore) trenchDirsOf(root *object.Tree) (map[string]plumbing.Hash, error) {
	out := map[string]plumbing.Hash{}
	for _, ns := range root.Entries {
		if ns.Mode != filemode.Dir {
			continue
		}
		t, err := ts.tree(ns.Hash)
		if err != nil {
			return nil, err
		}
		for _, tr := range t.Entries {
			if tr.Mode == filemode.Dir {
				out[render.Dir(ns.Name, tr.Name)] = tr.Hash
			}
		}
	}
	return out, nil
}

// applyDirs returns the owned tree with the trench directories of dirs set (nil removes one),
// its kustomization.yaml listing the trench directories it then holds, and marker (which names
// the owner of the tree) as its provenance file.
func (ts treeStore) applyDirs(owned plumbing.Hash, dirs map[string]*dirTree, marker []byte) (plumbing.Hash, error) {
	root, err := ts.tree(owned)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	byNS := map[string][]string{}
	for dir := range dirs {
		ns, _, ok := strings.Cut(dir, "/")
		if !ok {
			return plumbing.ZeroHash, fmt.Errorf("%q is not a <namespace>/<trench> directory", dir)
		}
		byNS[ns] = append(byNS[ns], dir)
	}
	for ns, list := range byNS {
		nsHash := plumbing.ZeroHash
		if e := entry(root, ns); e != nil && e.Mode == filemode.Dir {
			nsHash = e.Hash
		}
		nsTree, err := ts.tree(nsHash)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		for _, dir := range list {
			_, trench, _ := strings.Cut(dir, "/")
			d := dirs[dir]
			if d == nil {
				setEntry(nsTree, trench, filemode.Dir, plumbing.ZeroHash)
				continue
			}
			if d.tree != nil { // else already stored
				if err := ts.putDir(d); err != nil {
					return plumbing.ZeroHash, err
				}
			}
			setEntry(nsTree, trench, filemode.Dir, d.hash)
		}
		h := plumbing.ZeroHash
		if len(nsTree.Entries) > 0 {
			if h, err = ts.putTree(nsTree); err != nil {
				return plumbing.ZeroHash, err
			}
		}
		setEntry(root, ns, filemode.Dir, h)
	}
	// The kustomization.yaml of the owned directory lists every trench directory under it.
	listed, err := ts.kustomizedDirs(root)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	kh, err := ts.putBlob(render.KustomizationFile(listed))
	if err != nil {
		return plumbing.ZeroHash, err
	}
	setEntry(root, "kustomization.yaml", filemode.Regular, kh)
	mh, err := ts.putBlob(marker)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	setEntry(root, ProvenanceFile, filemode.Regular, mh)
	return ts.putTree(root)
}

// kustomizedDirs lists the trench directories of the owned directory's tree: those that hold
// a kustomization.yaml (a nested operator's namespace directory does not, and is not listed).
func (ts treeStore) kustomizedDirs(root *object.Tree) ([]string, error) {
	dirs, err := ts.trenchDirsOf(root)
	if err != nil {
		return nil, err
	}
	var listed []string
	for dir, h := range dirs {
		ok, err := ts.holdsKustomization(h)
		if err != nil {
			return nil, err
		}
		if ok {
			listed = append(listed, dir)
		}
	}
	return listed, nil
}
