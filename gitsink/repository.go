// Package gitsink delivers rendered trenches to a branch of a Git repository, for Flux or Argo
// CD to apply. A Repository is the single writer of one branch: it keeps a bare local clone
// across reconciles and restarts, builds each commit's tree in the object store from the
// parent's (only the changed trench directories are rewritten), never commits a tree equal to
// its parent's, and when a push is rejected because the branch moved, it fetches the new tip
// and rebuilds its own directories on it. It never force-pushes the branch and never touches
// files outside the directory it owns. Sink coalesces the trenches of many reconciles into
// few commits behind the delivery contract.
package gitsink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"

	"github.com/meridio-operator/meridio-operator/delivery"
	"github.com/meridio-operator/meridio-operator/internal/failpoint"
)

// Repository writes trench directories into one branch of one remote repository.
type Repository struct {
	url        string // without user info
	parsed     *url.URL
	urlCreds   *Credentials // user info found in the URL
	branch     string
	pushBranch string
	path       string
	dir        string
	author     object.Signature
	clock      func() time.Time
	creds      CredentialsFunc
	signer     SignerFunc
	attempts   int
	backoff    time.Duration
	timeout    time.Duration

	// writeMu serialises the exchanges with the remote (writes, polls, the first sync); mu
	// guards the clone and the fields below, and is held only for local work, never over the
	// network of a push, so that reconciles reading the clone do not wait for one.
	writeMu sync.Mutex
	mu      sync.Mutex
	repo    *git.Repository
	synced  bool
	// tip and pushTip are the remote heads of branch and pushBranch as last seen (zero when
	// the branch does not exist).
	tip, pushTip plumbing.Hash
	// listed caches which trench trees hold a kustomization.yaml (see treeStore.listed).
	listed map[plumbing.Hash]bool
}

// Option configures a Repository.
type Option func(*Repository)

// WithPath makes the operator own a directory of the repository (default: the root): trench
// directories and the kustomization.yaml listing them go there, and nothing outside it is
// touched.
func WithPath(p string) Option {
	return func(r *Repository) { r.path = strings.Join(splitPath(p), "/") }
}

// WithPushBranch pushes to branch instead, rebuilt on top of the target branch, so that
// people review the change as a pull request. Only this branch is ever force-pushed.
func WithPushBranch(branch string) Option { return func(r *Repository) { r.pushBranch = branch } }

// WithAuthor sets the author and committer of the commits.
func WithAuthor(name, email string) Option {
	return func(r *Repository) {
		if name != "" {
			r.author.Name = name
		}
		if email != "" {
			r.author.Email = email
		}
	}
}

// WithCredentials sets where credentials come from.
func WithCredentials(f CredentialsFunc) Option { return func(r *Repository) { r.creds = f } }

// WithClock sets the time source of commit dates.
func WithClock(now func() time.Time) Option { return func(r *Repository) { r.clock = now } }

// WithRetry sets how many times a write is tried when its push is rejected, and the backoff
// (multiplied by the attempt number) between tries.
func WithRetry(attempts int, backoff time.Duration) Option {
	return func(r *Repository) { r.attempts, r.backoff = attempts, backoff }
}

// WithTimeout bounds each exchange with the remote (default one minute).
func WithTimeout(d time.Duration) Option { return func(r *Repository) { r.timeout = d } }

// NewRepository returns a writer of branch of the repository at rawURL (https, http, ssh,
// git or file), cloned into dir (created if missing, reused if it already holds a clone).
func NewRepository(rawURL, branch, dir string, opts ...Option) (*Repository, error) {
	r := &Repository{
		branch: branch, dir: dir,
		author:   object.Signature{Name: "meridio-operator", Email: "meridio-operator@localhost"},
		clock:    time.Now,
		attempts: 5, backoff: 200 * time.Millisecond, timeout: time.Minute,
	}
	for _, o := range opts {
		o(r)
	}
	var err error
	if rawURL == "" {
		return nil, errors.New("gitsink: no repository URL")
	}
	if r.url, r.parsed, r.urlCreds, err = splitUserInfo(rawURL); err != nil {
		return nil, fmt.Errorf("gitsink: %w", err)
	}
	switch {
	case !validBranch(branch):
		return nil, fmt.Errorf("gitsink: invalid branch %q", branch)
	case r.pushBranch != "" && (!validBranch(r.pushBranch) || r.pushBranch == branch):
		return nil, fmt.Errorf("gitsink: invalid push branch %q: it must be a branch name other than %q", r.pushBranch, branch)
	case dir == "":
		return nil, errors.New("gitsink: no directory for the local clone")
	case strings.HasPrefix(r.path, "..") || strings.Contains(r.path, "/.."):
		return nil, fmt.Errorf("gitsink: path %q is outside the repository", r.path)
	case r.attempts < 1:
		return nil, errors.New("gitsink: attempts must be at least 1")
	}
	return r, nil
}

func validBranch(b string) bool {
	return b != "" && !strings.ContainsAny(b, " ~^:?*[\\") && !strings.HasPrefix(b, "-") && !strings.Contains(b, "..")
}

// URL is the repository's URL without user info.
func (r *Repository) URL() string { return r.url }

// Target is the branch commits are pushed to.
func (r *Repository) Target() string {
	if r.pushBranch != "" {
		return r.pushBranch
	}
	return r.branch
}

// credentials returns the credentials to use now, and the secrets to keep out of messages.
func (r *Repository) credentials(ctx context.Context) (transport.AuthMethod, []byte, []string, error) {
	c := r.urlCreds
	if r.creds != nil {
		got, err := r.creds(ctx)
		if err != nil {
			return nil, nil, nil, &Error{Reason: ReasonAuthFailed, Err: fmt.Errorf("read git credentials: %w", err)}
		}
		if got != nil {
			c = got
		}
	}
	secrets := append(c.secrets(), r.urlCreds.secrets()...)
	auth, err := c.authMethod(r.parsed)
	if err != nil {
		return nil, nil, secrets, &Error{Reason: ReasonAuthFailed, Err: sanitize(err, secrets)}
	}
	var ca []byte
	if c != nil {
		ca = c.CACert
	}
	return auth, ca, secrets, nil
}

// open opens the local clone, or makes a new one when it is missing or unreadable (a process
// killed mid-write can leave it half-written: the remote has everything, so start again).
func (r *Repository) open() error {
	if r.repo != nil {
		return nil
	}
	repo, err := git.PlainOpen(r.dir)
	if err == nil {
		if rem, rerr := repo.Remote("origin"); rerr != nil || len(rem.Config().URLs) == 0 || rem.Config().URLs[0] != r.url {
			err = fmt.Errorf("origin is not %s", RedactURL(r.url))
		}
	}
	if err != nil {
		if !errors.Is(err, git.ErrRepositoryNotExists) {
			if rmErr := os.RemoveAll(r.dir); rmErr != nil {
				return fmt.Errorf("gitsink: remove unusable clone %s: %w", r.dir, rmErr)
			}
		}
		if repo, err = git.PlainInit(r.dir, true); err != nil {
			return fmt.Errorf("gitsink: init %s: %w", r.dir, err)
		}
		if _, err = repo.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{r.url}}); err != nil {
			return fmt.Errorf("gitsink: add remote: %w", err)
		}
	}
	r.repo = repo
	return nil
}

// reset throws the local clone away, for a fresh one at the next use.
func (r *Repository) reset() error {
	r.repo, r.synced = nil, false
	return os.RemoveAll(r.dir)
}

// refresh reads the remote heads and fetches what is not local yet; an unmoved head costs
// one round trip and no fetch. The caller holds writeMu, not mu: the clone is locked only while
// a fetch writes to it.
func (r *Repository) refresh(ctx context.Context) error {
	r.mu.Lock()
	err := r.open()
	var rem *git.Remote
	if err == nil {
		rem, err = r.repo.Remote("origin")
	}
	r.mu.Unlock()
	if err != nil {
		return err
	}
	auth, ca, secrets, err := r.credentials(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	refs, err := rem.ListContext(ctx, &git.ListOptions{Auth: auth, CABundle: ca})
	r.mu.Lock()
	defer r.mu.Unlock()
	if errors.Is(err, transport.ErrEmptyRemoteRepository) {
		r.tip, r.pushTip, r.synced = plumbing.ZeroHash, plumbing.ZeroHash, true
		return nil
	}
	if err != nil {
		return classify("list the branches of "+RedactURL(r.url), sanitize(err, secrets))
	}
	heads := map[string]plumbing.Hash{}
	for _, ref := range refs {
		heads[ref.Name().String()] = ref.Hash()
	}
	var specs []config.RefSpec
	tips := map[string]plumbing.Hash{}
	for _, b := range []string{r.branch, r.pushBranch} {
		if b == "" {
			continue
		}
		h, ok := heads["refs/heads/"+b]
		tips[b] = h
		if ok && !r.hasCommit(h) {
			specs = append(specs, config.RefSpec("+refs/heads/"+b+":refs/remotes/origin/"+b))
		}
	}
	if len(specs) > 0 {
		err := r.repo.FetchContext(ctx, &git.FetchOptions{RemoteName: "origin", RefSpecs: specs, Auth: auth, CABundle: ca, Tags: git.NoTags})
		if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
			return classify("fetch "+RedactURL(r.url), sanitize(err, secrets))
		}
	}
	r.tip, r.pushTip = tips[r.branch], tips[r.pushBranch]
	r.synced = true
	return nil
}

func (r *Repository) hasCommit(h plumbing.Hash) bool {
	_, err := r.repo.CommitObject(h)
	return err == nil
}

// Sync makes sure the clone knows the remote heads; it fetches only once, later writes fetch
// when a push is rejected.
func (r *Repository) Sync(ctx context.Context) error {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	return r.syncLocked(ctx)
}

// syncLocked is Sync for a caller holding writeMu.
func (r *Repository) syncLocked(ctx context.Context) error {
	r.mu.Lock()
	synced := r.synced
	r.mu.Unlock()
	if synced {
		return nil
	}
	return r.refresh(ctx)
}

// Poll reads the remote heads, fetching what moved, and returns what the target branch holds.
func (r *Repository) Poll(ctx context.Context) (State, error) {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	if err := r.refresh(ctx); err != nil {
		return State{}, err
	}
	return r.lockedState()
}

// State is what the target branch holds.
type State struct {
	// Commit is the tip of the target branch (zero when it does not exist yet).
	Commit plumbing.Hash
	// Dirs are the trench directories under the owned path, with their tree hashes.
	Dirs map[string]plumbing.Hash
}

// State reads what the target branch holds, as last seen.
func (r *Repository) State(ctx context.Context) (State, error) {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	if err := r.syncLocked(ctx); err != nil {
		return State{}, err
	}
	st, err := r.lockedState()
	if err != nil {
		// Local objects that cannot be read: start from a fresh clone, once.
		if err := r.recover(ctx); err != nil {
			return State{}, err
		}
		st, err = r.lockedState()
	}
	return st, err
}

// lockedState is stateLocked under mu.
func (r *Repository) lockedState() (State, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stateLocked()
}

// recover replaces a local clone whose objects cannot be read (a process killed mid-write)
// with a fresh one from the remote, which has everything. The caller holds writeMu, not mu.
func (r *Repository) recover(ctx context.Context) error {
	r.mu.Lock()
	err := r.reset()
	r.mu.Unlock()
	if err != nil {
		return fmt.Errorf("gitsink: remove unusable clone %s: %w", r.dir, err)
	}
	return r.refresh(ctx)
}

func (r *Repository) stateLocked() (State, error) {
	tip := r.tip
	if r.pushBranch != "" && !r.pushTip.IsZero() {
		tip = r.pushTip
	}
	dirs, err := r.trenchDirsAt(tip)
	return State{Commit: tip, Dirs: dirs}, err
}

// trenchDirsAt reads the trench directories under the owned path in a commit (none for the
// zero hash), with their tree hashes.
func (r *Repository) trenchDirsAt(commit plumbing.Hash) (map[string]plumbing.Hash, error) {
	if commit.IsZero() {
		return map[string]plumbing.Hash{}, nil
	}
	ts := treeStore{s: r.repo.Storer}
	root, err := r.rootTree(commit)
	if err != nil {
		return nil, err
	}
	owned, err := ts.subtree(root, r.path)
	if err != nil {
		return nil, err
	}
	return ts.trenchDirs(owned)
}

func (r *Repository) rootTree(commit plumbing.Hash) (plumbing.Hash, error) {
	if commit.IsZero() {
		return plumbing.ZeroHash, nil
	}
	c, err := r.repo.CommitObject(commit)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("read commit %s: %w", commit, err)
	}
	return c.TreeHash, nil
}

// Result says what a Write did.
type Result struct {
	// Commit is the pushed commit; zero when nothing changed.
	Commit plumbing.Hash
	// State is what the target branch holds afterwards.
	State State
	// Attempts is how many tries the push took.
	Attempts int
}

// Write makes the owned path hold the given trench directories (nil removes one; others are
// left as they are), commits with message if that changes the tree, and pushes. A rejected
// push is fetched, rebuilt on the new tip and tried again with backoff.
func (r *Repository) Write(ctx context.Context, message string, dirs map[string]*dirTree) (Result, error) {
	r.writeMu.Lock()
	defer r.writeMu.Unlock()
	// The key is read once per write: its rebuilds after a rejected push are signed with it too.
	signer, err := r.signerNow(ctx)
	if err != nil {
		return Result{}, err
	}
	var lastErr error
	resetOnce := false
	for attempt := 1; attempt <= r.attempts; attempt++ {
		if attempt > 1 {
			select {
			case <-ctx.Done():
				return Result{}, ctx.Err()
			case <-time.After(jitter(time.Duration(attempt-1) * r.backoff)):
			}
			if err := r.refresh(ctx); err != nil {
				return Result{}, err
			}
		} else if r.pushBranch != "" {
			// The push branch is rebuilt on the target branch's tip: read where it is now.
			if err := r.refresh(ctx); err != nil {
				return Result{}, err
			}
		} else if err := r.syncLocked(ctx); err != nil {
			return Result{}, err
		}
		b, err := r.lockedCommit(message, dirs, signer)
		if delivery.ReasonOf(err, "") == ReasonSigningFailed {
			return Result{}, err
		}
		if err != nil && !resetOnce {
			// Local objects that cannot be read: start from a fresh clone, once.
			resetOnce = true
			if err := r.recover(ctx); err != nil {
				return Result{}, err
			}
			b, err = r.lockedCommit(message, dirs, signer)
		}
		if delivery.ReasonOf(err, "") == ReasonSigningFailed {
			return Result{}, err
		}
		if err != nil {
			return Result{}, fmt.Errorf("gitsink: build the commit: %w", err)
		}
		if b.commit.IsZero() {
			st, err := r.lockedState()
			return Result{State: st, Attempts: attempt}, err
		}
		failpoint.Crash(failpoint.GitBeforePush)
		if err := r.push(ctx, b); err != nil {
			var ge *Error
			if errors.As(err, &ge) && ge.Reason == ReasonAuthFailed || ctx.Err() != nil {
				return Result{}, err
			}
			lastErr = err
			continue
		}
		st, err := r.lockedState()
		return Result{Commit: b.commit, State: st, Attempts: attempt}, err
	}
	return Result{}, fmt.Errorf("gitsink: push to %s failed after %d attempts: %w", r.Target(), r.attempts, lastErr)
}

// built is a commit made locally, with its parent and the pack of the objects a push must
// send.
type built struct {
	commit, parent plumbing.Hash
	pack           []byte
}

// lockedCommit is commit under mu, with the pack encoded: the push that follows reads nothing
// of the clone.
func (r *Repository) lockedCommit(message string, dirs map[string]*dirTree, signer git.Signer) (built, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, objects, err := r.commit(message, dirs, signer)
	if err != nil || b.commit.IsZero() {
		return b, err
	}
	b.pack, err = encodePack(r.repo.Storer, objects)
	return b, err
}

// commit builds the commit of dirs on the current tip, signed by signer unless it is nil, and
// returns it with the objects a push must send; zero when the tree would not change. The
// caller holds mu.
func (r *Repository) commit(message string, dirs map[string]*dirTree, signer git.Signer) (built, []plumbing.Hash, error) {
	var objects []plumbing.Hash
	if r.listed == nil || len(r.listed) > 100000 {
		r.listed = map[plumbing.Hash]bool{}
	}
	ts := treeStore{s: r.repo.Storer, written: &objects, listed: r.listed}
	parent := r.tip
	parentRoot, err := r.rootTree(parent)
	if err != nil {
		return built{}, nil, err
	}
	ownedBase, err := ts.subtree(parentRoot, r.path)
	if err != nil {
		return built{}, nil, err
	}
	if r.pushBranch != "" && !r.pushTip.IsZero() {
		// The push branch carries our earlier changes: build on it while it still stands on
		// the target branch's tip, else rebuild it there, keeping our directory from it.
		onTip, err := r.isAncestor(r.tip, r.pushTip)
		if err != nil {
			return built{}, nil, err
		}
		pushRoot, err := r.rootTree(r.pushTip)
		if err != nil {
			return built{}, nil, err
		}
		if onTip {
			parent, parentRoot = r.pushTip, pushRoot
			if ownedBase, err = ts.subtree(pushRoot, r.path); err != nil {
				return built{}, nil, err
			}
		} else if dirs, err = r.carryOver(ts, ownedBase, pushRoot, dirs); err != nil {
			return built{}, nil, err
		}
	}
	owned, err := ts.applyDirs(ownedBase, dirs, rootMarker(r.path))
	if err != nil {
		return built{}, nil, err
	}
	root, err := ts.replaceSubtree(parentRoot, r.path, owned)
	if err != nil {
		return built{}, nil, err
	}
	if root == parentRoot {
		return built{}, nil, nil
	}
	sig := r.author
	sig.When = r.clock()
	c := &object.Commit{Author: sig, Committer: sig, Message: message, TreeHash: root}
	if !parent.IsZero() {
		c.ParentHashes = []plumbing.Hash{parent}
	}
	if signer != nil {
		if err := sign(c, signer); err != nil {
			return built{}, nil, err
		}
	}
	o := r.repo.Storer.NewEncodedObject()
	if err := c.Encode(o); err != nil {
		return built{}, nil, err
	}
	h, err := r.repo.Storer.SetEncodedObject(o)
	slices.SortFunc(objects, func(a, b plumbing.Hash) int { return bytes.Compare(a[:], b[:]) })
	objects = slices.Compact(objects)
	return built{commit: h, parent: parent}, append(objects, h), err
}

// carryOver adds to dirs the trench directories in which the push branch differs from the
// target branch, so that a push branch rebuilt on a new tip keeps the changes under review.
func (r *Repository) carryOver(ts treeStore, baseOwned, pushRoot plumbing.Hash, dirs map[string]*dirTree) (map[string]*dirTree, error) {
	pushOwned, err := ts.subtree(pushRoot, r.path)
	if err != nil {
		return nil, err
	}
	base, err := ts.trenchDirs(baseOwned)
	if err != nil {
		return nil, err
	}
	review, err := ts.trenchDirs(pushOwned)
	if err != nil {
		return nil, err
	}
	out := map[string]*dirTree{}
	for dir, h := range review {
		if base[dir] != h {
			out[dir] = &dirTree{hash: h}
		}
	}
	for dir := range base {
		if _, ok := review[dir]; !ok {
			out[dir] = nil
		}
	}
	for dir, d := range dirs {
		out[dir] = d
	}
	return out, nil
}

// isAncestor tells whether a is b or an ancestor of b.
func (r *Repository) isAncestor(a, b plumbing.Hash) (bool, error) {
	if a.IsZero() || a == b {
		return true, nil
	}
	ca, err := r.repo.CommitObject(a)
	if err != nil {
		return false, err
	}
	cb, err := r.repo.CommitObject(b)
	if err != nil {
		return false, err
	}
	return ca.IsAncestor(cb)
}

// push sends commit to the target branch: a fast-forward of the branch, or a forced update of
// the push branch, which only the operator writes.
func (r *Repository) push(ctx context.Context, b built) error {
	auth, ca, secrets, err := r.credentials(ctx)
	if err != nil {
		return err
	}
	target := r.Target()
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	// The push branch is the operator's own: it is rebuilt, so it may be force-pushed.
	if err := r.sendPack(ctx, auth, ca, target, b.parent, b.commit, b.pack, r.pushBranch != ""); err != nil {
		return classify("push to "+target, sanitize(err, secrets))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	// A local branch at the pushed commit, for anyone who looks into the clone.
	_ = r.repo.Storer.SetReference(plumbing.NewHashReference(plumbing.NewBranchReferenceName(target), b.commit))
	if r.pushBranch != "" {
		r.pushTip = b.commit
	} else {
		r.tip = b.commit
	}
	return nil
}

// Reasons of delivery failures, as the Trench's Ready condition shows them.
const (
	// ReasonPushFailed: the remote could not be reached or refused the push.
	ReasonPushFailed = "GitPushFailed"
	// ReasonAuthFailed: the remote refused the credentials, or they could not be read.
	ReasonAuthFailed = "GitAuthFailed"
)

// Error is a failure of an exchange with the remote, with its reason.
type Error = delivery.Error

// classify wraps a transport error with its reason.
func classify(what string, err error) error {
	reason := ReasonPushFailed
	msg := strings.ToLower(err.Error())
	if errors.Is(err, transport.ErrAuthenticationRequired) || errors.Is(err, transport.ErrAuthorizationFailed) ||
		strings.Contains(msg, "unable to authenticate") || strings.Contains(msg, "knownhosts") ||
		strings.Contains(msg, "authentication required") || strings.Contains(msg, "authorization failed") {
		reason = ReasonAuthFailed
	}
	return &Error{Reason: reason, Err: fmt.Errorf("%s: %w", what, err)}
}

// provenance reads the provenance file of a directory tree of the local clone (nil when the
// directory has none), with the tree.
func (r *Repository) provenance(h plumbing.Hash) (*object.Tree, *provenance, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.repo == nil {
		return nil, nil, errors.New("gitsink: not open")
	}
	return readProvenance(treeStore{s: r.repo.Storer}, h)
}

// tree reads a tree of the local clone.
func (r *Repository) tree(h plumbing.Hash) (*object.Tree, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.repo == nil {
		return nil, errors.New("gitsink: not open")
	}
	return treeStore{s: r.repo.Storer}.tree(h)
}

// jitter spreads d over [d/2, 3d/2), so that writers that collided do not retry in step.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	return d/2 + time.Duration(rand.Int64N(int64(d)))
}

// scan calls f with the root tree of a commit and the tree of the owned path, under the lock.
func (r *Repository) scan(commit plumbing.Hash, f func(root, owned plumbing.Hash) error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if commit.IsZero() || r.repo == nil {
		return nil
	}
	root, err := r.rootTree(commit)
	if err != nil {
		return err
	}
	owned, err := treeStore{s: r.repo.Storer}.subtree(root, r.path)
	if err != nil {
		return err
	}
	return f(root, owned)
}
