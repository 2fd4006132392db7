// Package gitsink writes rendered trench directories into a branch of a Git repository, for
// Flux or Argo CD to apply. One Repository is the single writer of one repository and branch
// inside the operator; it keeps a persistent local clone, commits only when the files changed,
// and when a push is rejected because someone else pushed first, it fetches the new tip and
// rebuilds its own directories on it (it never force-pushes and never touches other files).
package gitsink

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/meridio-operator/meridio-operator/render"
)

// Repository writes into one branch of one remote repository.
type Repository struct {
	url, branch, dir string
	path             string
	author           object.Signature
	clock            func() time.Time
	attempts         int
	backoff          time.Duration
	beforePush       func() // tests use it to race another writer

	mu   sync.Mutex
	repo *git.Repository
}

// Option configures a Repository.
type Option func(*Repository)

// WithPath makes the operator own the directory path of the repository (default: the root):
// trench directories and the kustomization.yaml listing them go there.
func WithPath(path string) Option { return func(r *Repository) { r.path = filepath.Clean(path) } }

// WithAuthor sets the author and committer of the commits.
func WithAuthor(name, email string) Option {
	return func(r *Repository) { r.author.Name, r.author.Email = name, email }
}

// WithClock sets the time source of commit dates.
func WithClock(now func() time.Time) Option { return func(r *Repository) { r.clock = now } }

// WithRetry sets how many times a write is tried when its push is rejected, and the backoff
// (multiplied by the attempt number) between tries.
func WithRetry(attempts int, backoff time.Duration) Option {
	return func(r *Repository) { r.attempts, r.backoff = attempts, backoff }
}

// New returns a writer of branch of the repository at url, cloned into dir (created if missing,
// reused if it already holds a clone).
func New(url, branch, dir string, opts ...Option) (*Repository, error) {
	r := &Repository{
		url: url, branch: branch, dir: dir, path: ".",
		author:   object.Signature{Name: "meridio-operator", Email: "meridio-operator@localhost"},
		clock:    time.Now,
		attempts: 5, backoff: 200 * time.Millisecond,
	}
	for _, o := range opts {
		o(r)
	}
	switch {
	case url == "":
		return nil, errors.New("gitsink: no repository URL")
	case branch == "" || strings.ContainsAny(branch, " ~^:?*[\\"):
		return nil, fmt.Errorf("gitsink: invalid branch %q", branch)
	case dir == "":
		return nil, errors.New("gitsink: no directory for the local clone")
	case r.path == ".." || strings.HasPrefix(r.path, "../") || filepath.IsAbs(r.path):
		return nil, fmt.Errorf("gitsink: path %q is outside the repository", r.path)
	case r.attempts < 1:
		return nil, errors.New("gitsink: attempts must be at least 1")
	}
	return r, nil
}

// Change is the new content of one trench directory.
type Change struct {
	// Dir is the trench directory, "<namespace>/<trench>" (render.Dir).
	Dir string
	// Files maps file names inside Dir to their content; nil removes the directory.
	Files map[string][]byte
}

// Result says what a Write did.
type Result struct {
	// Commit is the hash of the pushed commit, or "" when nothing changed.
	Commit string
	// Attempts is how many tries the push took.
	Attempts int
}

// Summary is a one-line description, for events and logs.
func (r Result) Summary() string {
	if r.Commit == "" {
		return "no change"
	}
	return fmt.Sprintf("pushed %s after %d attempt(s)", r.Commit[:min(12, len(r.Commit))], r.Attempts)
}

// Write makes the branch hold exactly the given trench directories (others untouched), commits
// with message if anything changed, and pushes. A rejected push is tried again on the new tip.
func (r *Repository) Write(ctx context.Context, message string, changes ...Change) (Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var lastErr error
	for attempt := 1; attempt <= r.attempts; attempt++ {
		if attempt > 1 {
			select {
			case <-ctx.Done():
				return Result{}, ctx.Err()
			case <-time.After(time.Duration(attempt-1) * r.backoff):
			}
		}
		hash, err := r.commit(ctx, message, changes)
		if err != nil || hash == "" {
			return Result{}, err
		}
		if r.beforePush != nil {
			r.beforePush()
		}
		err = r.repo.PushContext(ctx, &git.PushOptions{
			RemoteName: "origin",
			RefSpecs:   []config.RefSpec{config.RefSpec("refs/heads/" + r.branch + ":refs/heads/" + r.branch)},
		})
		if err == nil {
			return Result{Commit: hash, Attempts: attempt}, nil
		}
		if ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
		lastErr = err
	}
	return Result{}, fmt.Errorf("gitsink: push to %s %s failed after %d attempts: %w", r.url, r.branch, r.attempts, lastErr)
}

// commit syncs the clone with the remote tip, writes the changes and commits them; it returns
// "" when the files did not change.
func (r *Repository) commit(ctx context.Context, message string, changes []Change) (string, error) {
	if err := r.sync(ctx); err != nil {
		return "", err
	}
	wt, err := r.repo.Worktree()
	if err != nil {
		return "", err
	}
	for _, c := range changes {
		if err := r.writeDir(c); err != nil {
			return "", err
		}
	}
	if err := r.writeIndex(); err != nil {
		return "", err
	}
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		return "", fmt.Errorf("gitsink: stage: %w", err)
	}
	st, err := wt.Status()
	if err != nil {
		return "", err
	}
	if st.IsClean() {
		return "", nil
	}
	sig := r.author
	sig.When = r.clock()
	h, err := wt.Commit(message, &git.CommitOptions{Author: &sig, Committer: &sig})
	if err != nil {
		return "", fmt.Errorf("gitsink: commit: %w", err)
	}
	return h.String(), nil
}

// sync opens (or creates) the local clone, fetches the branch and resets the work tree to its
// tip; an empty remote or a missing branch leaves an empty work tree on an unborn branch.
func (r *Repository) sync(ctx context.Context) error {
	if r.repo == nil {
		repo, err := git.PlainOpen(r.dir)
		if errors.Is(err, git.ErrRepositoryNotExists) {
			if repo, err = git.PlainInit(r.dir, false); err == nil {
				_, err = repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{r.url}})
			}
		}
		if err != nil {
			return fmt.Errorf("gitsink: open %s: %w", r.dir, err)
		}
		r.repo = repo
	}
	remoteRef := plumbing.NewRemoteReferenceName("origin", r.branch)
	err := r.repo.FetchContext(ctx, &git.FetchOptions{
		RemoteName: "origin",
		RefSpecs:   []config.RefSpec{config.RefSpec("+refs/heads/" + r.branch + ":" + remoteRef.String())},
	})
	empty := errors.Is(err, transport.ErrEmptyRemoteRepository) || (err != nil && strings.Contains(err.Error(), "couldn't find remote ref"))
	if err != nil && !empty && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return fmt.Errorf("gitsink: fetch %s: %w", r.url, err)
	}
	local := plumbing.NewBranchReferenceName(r.branch)
	if err := r.repo.Storer.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, local)); err != nil {
		return err
	}
	wt, err := r.repo.Worktree()
	if err != nil {
		return err
	}
	tip, err := r.repo.Reference(remoteRef, true)
	if empty || errors.Is(err, plumbing.ErrReferenceNotFound) {
		// Nothing to build on: start the branch from an empty tree.
		_ = r.repo.Storer.RemoveReference(local)
		return r.clearWorktree()
	}
	if err != nil {
		return err
	}
	if err := r.repo.Storer.SetReference(plumbing.NewHashReference(local, tip.Hash())); err != nil {
		return err
	}
	if err := wt.Reset(&git.ResetOptions{Commit: tip.Hash(), Mode: git.HardReset}); err != nil {
		return fmt.Errorf("gitsink: reset to %s: %w", tip.Hash(), err)
	}
	return wt.Clean(&git.CleanOptions{Dir: true})
}

// clearWorktree removes every file of the work tree (not .git).
func (r *Repository) clearWorktree() error {
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.Name() != ".git" {
			if err := os.RemoveAll(filepath.Join(r.dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeDir makes a trench directory hold exactly the files of c.
func (r *Repository) writeDir(c Change) error {
	clean := filepath.Clean(c.Dir)
	if clean == "." || strings.HasPrefix(clean, "..") || filepath.IsAbs(clean) || strings.Count(clean, string(filepath.Separator)) != 1 {
		return fmt.Errorf("gitsink: %q is not a <namespace>/<trench> directory", c.Dir)
	}
	dir := filepath.Join(r.dir, r.path, clean)
	if c.Files == nil {
		return os.RemoveAll(dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	existing, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range existing {
		if _, keep := c.Files[e.Name()]; !keep {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	for name, data := range c.Files {
		if name != filepath.Base(name) {
			return fmt.Errorf("gitsink: file %q of %s is not a plain name", name, c.Dir)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// writeIndex rewrites the kustomization.yaml of the owned path, listing every trench directory
// that holds a kustomization.yaml.
func (r *Repository) writeIndex() error {
	root := filepath.Join(r.dir, r.path)
	matches, err := filepath.Glob(filepath.Join(root, "*", "*", "kustomization.yaml"))
	if err != nil {
		return err
	}
	var dirs []string
	for _, m := range matches {
		rel, err := filepath.Rel(root, filepath.Dir(m))
		if err != nil {
			return err
		}
		dirs = append(dirs, filepath.ToSlash(rel))
	}
	sort.Strings(dirs)
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(root, "kustomization.yaml"), render.KustomizationFile(dirs), 0o644)
}
