// Package demo holds what `run --local` needs to show the GitOps loop on one machine: a
// stand-in for Flux's kustomize-controller that applies what the operator commits, and the
// report printed once the examples have converged. It is not part of the operator.
package demo

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fluxcd/pkg/kustomize"
	"github.com/fluxcd/pkg/ssa"
	ssautils "github.com/fluxcd/pkg/ssa/utils"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Applier stands in for Flux: it follows a branch of a local repository and, at each new
// commit, builds the path with fluxcd/pkg/kustomize and applies it with fluxcd/pkg/ssa (the
// libraries kustomize-controller uses), pruning what it applied before and no longer builds.
type Applier struct {
	// Repo is the repository directory (bare), Branch the branch and Path the directory built.
	Repo, Branch, Path string
	// Client writes to the cluster.
	Client client.Client
	// Interval is how often the branch is read (default 300ms).
	Interval time.Duration

	mu        sync.Mutex
	applied   plumbing.Hash
	last      Applied
	inventory map[string]*unstructured.Unstructured
}

// Applied is what one apply did.
type Applied struct {
	Commit  string
	Subject string
	Objects int
	Changed int
	Pruned  int
	Err     error
}

// Last returns what the last apply did.
func (a *Applier) Last() Applied {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last
}

// Run applies each new commit until ctx ends.
func (a *Applier) Run(ctx context.Context) {
	log := ctrl.LoggerFrom(ctx).WithName("flux-stand-in")
	interval := a.Interval
	if interval == 0 {
		interval = 300 * time.Millisecond
	}
	for {
		if res, ok := a.reconcile(ctx); ok {
			if res.Err != nil {
				log.Error(res.Err, "apply failed", "commit", res.Commit)
			} else {
				log.Info("applied", "commit", res.Commit, "objects", res.Objects, "changed", res.Changed, "pruned", res.Pruned)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

// reconcile applies the branch's head if it is new; ok is false when there was nothing to do.
func (a *Applier) reconcile(ctx context.Context) (Applied, bool) {
	repo, err := git.PlainOpen(a.Repo)
	if err != nil {
		return Applied{Err: err}, true
	}
	ref, err := repo.Reference(plumbing.NewBranchReferenceName(a.Branch), true)
	if err != nil {
		return Applied{}, false // nothing committed yet
	}
	a.mu.Lock()
	same := ref.Hash() == a.applied
	a.mu.Unlock()
	if same {
		return Applied{}, false
	}
	res := a.apply(ctx, repo, ref.Hash())
	a.mu.Lock()
	a.last = res
	if res.Err == nil {
		a.applied = ref.Hash()
	}
	a.mu.Unlock()
	return res, true
}

// ApplyRevision applies one commit ("<branch>@sha1:<hash>" or a bare hash) now.
func (a *Applier) ApplyRevision(ctx context.Context, revision string) Applied {
	repo, err := git.PlainOpen(a.Repo)
	if err != nil {
		return Applied{Err: err}
	}
	if i := strings.LastIndex(revision, ":"); i >= 0 {
		revision = revision[i+1:]
	}
	res := a.apply(ctx, repo, plumbing.NewHash(revision))
	a.mu.Lock()
	defer a.mu.Unlock()
	a.last = res
	return res
}

func (a *Applier) apply(ctx context.Context, repo *git.Repository, commit plumbing.Hash) Applied {
	res := Applied{Commit: commit.String()}
	dir, err := os.MkdirTemp("", "flux-stand-in-")
	if err != nil {
		res.Err = err
		return res
	}
	defer os.RemoveAll(dir)
	if res.Subject, err = checkout(repo, commit, dir); err != nil {
		res.Err = err
		return res
	}
	built, err := kustomize.SecureBuild(dir, filepath.Join(dir, a.Path), false)
	if err != nil {
		res.Err = fmt.Errorf("build %s: %w", a.Path, err)
		return res
	}
	data, err := built.AsYaml()
	if err != nil {
		res.Err = err
		return res
	}
	objs, err := ssautils.ReadObjects(bytes.NewReader(data))
	if err != nil {
		res.Err = err
		return res
	}
	rm := ssa.NewResourceManager(a.Client, nil, ssa.Owner{Field: "kustomize-controller", Group: "kustomize.toolkit.fluxcd.io"})
	cs, err := rm.ApplyAllStaged(ctx, objs, ssa.DefaultApplyOptions())
	if err != nil {
		res.Err = fmt.Errorf("apply: %w", err)
		return res
	}
	res.Objects = len(objs)
	for _, e := range cs.Entries {
		if e.Action != ssa.UnchangedAction {
			res.Changed++
		}
	}
	next := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		next[ssautils.FmtUnstructured(o)] = o
	}
	var stale []*unstructured.Unstructured
	for id, o := range a.inventory {
		if _, ok := next[id]; !ok {
			stale = append(stale, o)
		}
	}
	if len(stale) > 0 {
		if _, err := rm.DeleteAll(ctx, stale, ssa.DefaultDeleteOptions()); err != nil {
			res.Err = fmt.Errorf("prune: %w", err)
			return res
		}
	}
	res.Pruned = len(stale)
	a.inventory = next
	return res
}

// checkout writes the files of a commit into dir.
func checkout(repo *git.Repository, commit plumbing.Hash, dir string) (string, error) {
	c, err := repo.CommitObject(commit)
	if err != nil {
		return "", err
	}
	subject, _, _ := strings.Cut(c.Message, "\n")
	files, err := c.Files()
	if err != nil {
		return "", err
	}
	return subject, files.ForEach(func(f *object.File) error {
		content, err := f.Contents()
		if err != nil {
			return err
		}
		full := filepath.Join(dir, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		return os.WriteFile(full, []byte(content), 0o644)
	})
}
