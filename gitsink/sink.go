package gitsink

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/delivery"
	"github.com/meridio-operator/meridio-operator/forge"
	"github.com/meridio-operator/meridio-operator/internal/livestate"
	"github.com/meridio-operator/meridio-operator/render"
)

// Sink delivers renders as commits: Deliver records a trench's directory and returns at once;
// a single loop (Start) commits the directories that arrived within the coalescing window in
// one commit, pushes it, and then names the trenches on Landed so that their status is
// gathered again. It implements delivery.Sink and manager.Runnable.
type Sink struct {
	repo   *Repository
	reader client.Reader
	// verifier, when set, dry-runs renders before they are committed, as fieldManager.
	verifier     client.Client
	fieldManager string
	// forge, when set, gets the commit statuses and, with pullRequests, the pull request of the
	// push branch; forgeWork queues its calls, posted remembers the last status of each context.
	forge        forge.Client
	pullRequests bool
	forgeWork    chan func(context.Context)
	// template writes the commit messages (nil: the default message).
	template *MessageTemplate
	// version goes into the provenance files; overwrite lets renders replace outside edits.
	version   string
	overwrite bool
	// delay is the quiet time that closes a batch; maxWait bounds a batch that keeps growing.
	delay, maxWait time.Duration
	// retryMin and retryMax bound the backoff after a failed write.
	retryMin, retryMax time.Duration
	// pollInterval is how often the branch is read for others' pushes.
	pollInterval time.Duration

	kick   chan struct{}
	events chan event.GenericEvent

	mu         sync.Mutex
	loaded     bool
	desired    map[string]*change   // trench directory → content waiting to be pushed
	landed     map[string]landedDir // trench directory → what the target branch holds
	failure    error                // the last write's failure, while changes wait
	conflict   error                // another operator writes an overlapping path
	lastSubmit time.Time
	batched    int        // changes recorded since the last commit attempt
	backlog    func() int // reconciles queued or running
	lastFlush  time.Time  // when the last commit attempt ended
	// review is the pull request of the push branch and reviewDirs the trench directories it
	// changes; posted maps each status context to the status last posted.
	review     *delivery.Review
	reviewDirs map[string]bool
	posted     map[string]string
}

// change is the wanted content of one trench directory.
type change struct {
	trench  types.NamespacedName
	tree    *dirTree // nil removes the directory
	sources []render.Source
}

// landedDir is a trench directory as the target branch holds it.
type landedDir struct {
	hash   plumbing.Hash
	commit plumbing.Hash
	// unreported lists the files the last commit changed, until a Deliver reports them.
	unreported []string
}

var (
	_ delivery.Sink            = (*Sink)(nil)
	_ delivery.BacklogAware    = (*Sink)(nil)
	_ delivery.OutcomeReporter = (*Sink)(nil)
)

// SinkOption configures a Sink.
type SinkOption func(*Sink)

// WithCommitDelay sets the coalescing window: a commit is made once no change has arrived for
// delay and no reconcile is pending, or at the latest 25×delay after the first change of the
// batch; a change that comes alone after a quiet period is committed at once.
func WithCommitDelay(delay time.Duration) SinkOption {
	return func(s *Sink) { s.delay, s.maxWait = delay, 25*delay }
}

// WithRetryBackoff bounds the backoff between tries of a failed write.
func WithRetryBackoff(min, max time.Duration) SinkOption {
	return func(s *Sink) { s.retryMin, s.retryMax = min, max }
}

// NewSink returns a Sink writing to repo; live objects are read through reader (the manager's
// cache).
func NewSink(repo *Repository, reader client.Reader, opts ...SinkOption) *Sink {
	s := &Sink{
		repo: repo, reader: reader,
		delay: 200 * time.Millisecond, maxWait: 5 * time.Second,
		retryMin: time.Second, retryMax: time.Minute, pollInterval: time.Minute,
		kick:    make(chan struct{}, 1),
		events:  make(chan event.GenericEvent, 1024),
		desired: map[string]*change{}, landed: map[string]landedDir{},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// revision names a commit of the target branch as Flux does.
func (s *Sink) revision(commit plumbing.Hash) string {
	return s.repo.Target() + "@sha1:" + commit.String()
}

// load reads what the target branch holds, once.
func (s *Sink) load(ctx context.Context) error {
	s.mu.Lock()
	loaded := s.loaded
	s.mu.Unlock()
	if loaded {
		return nil
	}
	st, err := s.repo.State(ctx)
	if err != nil {
		return err
	}
	var conflict error
	if err := s.repo.scan(st.Commit, s.scanConflicts); delivery.ReasonOf(err, "") == ReasonPathConflict {
		conflict = err
	} else if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.loaded {
		for dir, h := range st.Dirs {
			s.landed[dir] = landedDir{hash: h, commit: st.Commit}
		}
		s.conflict = conflict
		s.loaded = true
		if s.forge != nil {
			// After a restart: the pull request of what the push branch already holds.
			s.queueForge(s.syncReview)
		}
	}
	return nil
}

// Deliver records the trench's directory for the next commit; it reports the revision at
// once when the target branch already holds it.
func (s *Sink) Deliver(ctx context.Context, res *render.Result) (delivery.Result, error) {
	dir := render.Dir(res.Namespace, res.Trench)
	tree, err := trenchTree(res, s.version, s.repo.path)
	if err != nil {
		return delivery.Result{Commits: true}, err
	}
	c := &change{trench: types.NamespacedName{Namespace: res.Namespace, Name: res.Trench}, tree: tree, sources: res.Sources}
	if err := s.load(ctx); err != nil {
		return delivery.Result{Commits: true}, err
	}
	if err := s.conflictErr(); err != nil {
		return delivery.Result{Commits: true}, err
	}
	if s.isNew(dir, c) {
		held, err := s.checkOwnership(dir, c)
		if err != nil {
			return delivery.Result{Commits: true}, err
		}
		if len(held) > 0 {
			s.withdraw(dir)
			s.mu.Lock()
			defer s.mu.Unlock()
			return delivery.Result{Commits: true, Held: held, Revision: s.revision(s.landed[dir].commit)}, nil
		}
		if err := s.verify(ctx, s.changedItems(dir, res, c.tree)); err != nil {
			s.withdraw(dir)
			return delivery.Result{Commits: true}, err
		}
	}
	return s.submit(ctx, dir, c)
}

// trenchTree is the directory of a render, provenance file included, as an operator of
// version owning path commits it.
func trenchTree(res *render.Result, version, owned string) (*dirTree, error) {
	dir := render.Dir(res.Namespace, res.Trench)
	files, err := render.TrenchFiles(res)
	if err != nil {
		return nil, fmt.Errorf("trench %s: %w", dir, err)
	}
	plain := make(map[string][]byte, len(files)+1)
	for p, data := range files {
		plain[path.Base(p)] = data
	}
	if err := withProvenance(plain, res, version, owned); err != nil {
		return nil, fmt.Errorf("trench %s: %w", dir, err)
	}
	tree, err := newDirTree(plain)
	if err != nil {
		return nil, fmt.Errorf("trench %s: %w", dir, err)
	}
	return tree, nil
}

// changedItems lists the objects of res whose file differs from what the branch holds.
func (s *Sink) changedItems(dir string, res *render.Result, d *dirTree) []render.Item {
	s.mu.Lock()
	l, ok := s.landed[dir]
	s.mu.Unlock()
	held := map[string]plumbing.Hash{}
	if ok {
		if t, err := s.repo.tree(l.hash); err == nil {
			for _, e := range t.Entries {
				held[e.Name] = e.Hash
			}
		}
	}
	wanted := map[string]plumbing.Hash{}
	for _, e := range d.tree.Entries {
		wanted[e.Name] = e.Hash
	}
	var out []render.Item
	for _, it := range res.Items {
		name := render.FileName(it.Object)
		if h, ok := held[name]; !ok || h != wanted[name] {
			out = append(out, it)
		}
	}
	return out
}

// conflictErr is the path conflict found at load, if any.
func (s *Sink) conflictErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conflict
}

// isNew tells whether c is neither what the branch holds nor what waits to be committed.
func (s *Sink) isNew(dir string, c *change) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, ok := s.landed[dir]; ok && l.hash == c.tree.hash {
		return false
	}
	p := s.desired[dir]
	return p == nil || !sameContent(p, c)
}

// withdraw drops a waiting change whose newer render was refused: an older render of the
// trench is not committed in its place.
func (s *Sink) withdraw(dir string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.desired, dir)
}

// Remove records the removal of the trench's directory for the next commit.
func (s *Sink) Remove(ctx context.Context, namespace, trench string) (delivery.Result, error) {
	dir := render.Dir(namespace, trench)
	c := &change{trench: types.NamespacedName{Namespace: namespace, Name: trench}}
	if err := s.load(ctx); err != nil {
		return delivery.Result{Commits: true}, err
	}
	if err := s.conflictErr(); err != nil {
		return delivery.Result{Commits: true}, err
	}
	if _, err := s.checkOwnership(dir, c); err != nil {
		return delivery.Result{Commits: true}, err
	}
	return s.submit(ctx, dir, c)
}

func (s *Sink) submit(ctx context.Context, dir string, c *change) (delivery.Result, error) {
	if err := s.load(ctx); err != nil {
		return delivery.Result{Commits: true}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l, exists := s.landed[dir]
	if (c.tree == nil && !exists) || (c.tree != nil && exists && l.hash == c.tree.hash) {
		delete(s.desired, dir) // the branch already holds it
		out := delivery.Result{Commits: true, Review: s.reviewFor(dir)}
		if exists {
			out.Revision = s.revision(l.commit)
			if c.tree != nil {
				out.Changed, l.unreported = l.unreported, nil
				s.landed[dir] = l
			}
		}
		return out, nil
	}
	if p := s.desired[dir]; p == nil || !sameContent(p, c) {
		s.desired[dir] = c
		s.lastSubmit = time.Now()
		s.batched++
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	return delivery.Result{Pending: true, Commits: true, Review: s.reviewFor(dir)}, s.failure
}

func sameContent(a, b *change) bool {
	if a.tree == nil || b.tree == nil {
		return a.tree == nil && b.tree == nil
	}
	return a.tree.hash == b.tree.hash
}

// Trenches lists the trench directories of the owned path.
func (s *Sink) Trenches(ctx context.Context) ([]types.NamespacedName, error) {
	if err := s.load(ctx); err != nil {
		return nil, err
	}
	s.mu.Lock()
	dirs := make(map[string]plumbing.Hash, len(s.landed))
	for dir, l := range s.landed {
		dirs[dir] = l.hash
	}
	s.mu.Unlock()
	out := make([]types.NamespacedName, 0, len(dirs))
	for dir, h := range dirs {
		// Only the directories this operator wrote: not another operator's, not a hand-made one.
		t, p, err := s.repo.provenance(h)
		if err != nil {
			return nil, err
		}
		if (p != nil && p.Path != s.repo.path) || (p == nil && entry(t, "kustomization.yaml") == nil) {
			continue
		}
		ns, name, _ := strings.Cut(dir, "/")
		out = append(out, types.NamespacedName{Namespace: ns, Name: name})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out, nil
}

// Live reads a rendered object as Flux or Argo CD applied it, from the cache.
func (s *Sink) Live(ctx context.Context, rendered client.Object) (map[string]any, error) {
	return livestate.Read(ctx, s.reader, rendered)
}

// Landed names the trenches whose pending change was pushed, or failed to be.
func (s *Sink) Landed() <-chan event.GenericEvent { return s.events }

// Start runs the commit loop until ctx ends.
func (s *Sink) Start(ctx context.Context) error {
	log := ctrl.LoggerFrom(ctx).WithName("gitsink")
	// A start is when a backlog arrives: coalesce it rather than commit its first change alone.
	s.mu.Lock()
	s.lastFlush = time.Now()
	s.mu.Unlock()
	if s.forge != nil {
		go s.runForge(ctx)
	}
	var retry <-chan time.Time
	backoff := time.Duration(0)
	var tick <-chan time.Time
	if s.pollInterval > 0 {
		t := time.NewTicker(s.pollInterval)
		defer t.Stop()
		tick = t.C
	}
	for {
		if retry != nil {
			// After a failure, wait for the backoff whatever arrives meanwhile.
			select {
			case <-ctx.Done():
				return nil
			case <-retry:
			}
		} else {
			select {
			case <-ctx.Done():
				return nil
			case <-tick:
				if err := s.poll(ctx); err != nil {
					log.Error(err, "read the branch")
				}
				continue
			case <-s.kick:
			}
		}
		if !s.settle(ctx) {
			return nil
		}
		if err := s.flush(ctx); err != nil {
			backoff = min(max(2*backoff, s.retryMin), s.retryMax)
			retry = time.After(backoff)
			log.Error(err, "commit failed; retrying", "backoff", backoff)
			continue
		}
		retry, backoff = nil, 0
	}
}

// settle waits until the batch is complete; false when ctx ended. A batch is complete when
// no reconcile that may add to it is queued or running (SetBacklog), and either no change
// has arrived for the delay or its one change came after a quiet period (a lone edit is not
// held back); at the latest maxWait after the batch began.
func (s *Sink) settle(ctx context.Context) bool {
	first := time.Now()
	for {
		now := time.Now()
		s.mu.Lock()
		busy := s.backlog != nil && s.backlog() > 0
		quiet := now.Sub(s.lastSubmit) >= s.delay
		alone := s.batched == 1 && s.lastSubmit.Sub(s.lastFlush) >= s.delay
		s.mu.Unlock()
		if (!busy && (quiet || alone)) || now.Sub(first) >= s.maxWait {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// SetBacklog tells the sink how many reconciles are queued or running: while there are, more
// changes are coming, and the batch waits for them.
func (s *Sink) SetBacklog(f func() int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.backlog = f
}

// flush commits and pushes every waiting change in one commit.
func (s *Sink) flush(ctx context.Context) error {
	log := ctrl.LoggerFrom(ctx).WithName("gitsink")
	if err := s.load(ctx); err != nil {
		s.fail(ctx, err)
		return err
	}
	s.mu.Lock()
	batch := make(map[string]*change, len(s.desired))
	dirs := make(map[string]*dirTree, len(s.desired))
	for dir, c := range s.desired {
		batch[dir] = c
		dirs[dir] = c.tree
	}
	msg, msgErr := s.message(batch)
	s.batched = 0
	s.mu.Unlock()
	if msgErr != nil {
		log.Error(msgErr, "commit message template failed; the default message is used")
	}
	if len(batch) == 0 {
		return nil
	}
	start := time.Now()
	res, err := s.repo.Write(ctx, msg, dirs)
	s.mu.Lock()
	s.lastFlush = time.Now()
	s.mu.Unlock()
	if err != nil {
		s.fail(ctx, err)
		return err
	}
	var notify []types.NamespacedName
	s.mu.Lock()
	s.failure = nil
	commit := res.Commit
	if commit.IsZero() {
		commit = res.State.Commit
	}
	notify = s.absorb(res.State, commit, batch)
	for dir, c := range batch {
		if s.desired[dir] == c {
			delete(s.desired, dir)
		}
		notify = append(notify, c.trench)
	}
	s.mu.Unlock()
	if !res.Commit.IsZero() && s.forge != nil {
		s.queueForge(s.syncReview)
	}
	if !res.Commit.IsZero() {
		commitsPushed.Inc()
		log.Info("pushed", "commit", res.Commit.String(), "branch", s.repo.Target(), "trenches", len(batch), "attempts", res.Attempts, "duration", time.Since(start).Round(time.Millisecond))
	}
	s.notify(ctx, notify)
	return nil
}

// absorb takes in what the branch holds now, ours (the batch, pushed in commit) and whatever
// others pushed meanwhile, and returns the trenches whose directory changed. It runs under s.mu.
func (s *Sink) absorb(st State, commit plumbing.Hash, batch map[string]*change) []types.NamespacedName {
	var changed []types.NamespacedName
	for dir, h := range st.Dirs {
		old, ok := s.landed[dir]
		if ok && old.hash == h {
			continue
		}
		l := landedDir{hash: h, commit: commit}
		if c := batch[dir]; c != nil && c.tree != nil && c.tree.hash == h {
			l.unreported = changedFiles(old.hash, ok, s.repo, c.tree)
		} else if ok {
			l.commit = st.Commit // changed by someone else: reconcile to look at it
		}
		s.landed[dir] = l
		changed = append(changed, trenchOf(dir))
	}
	for dir := range s.landed {
		if _, ok := st.Dirs[dir]; !ok {
			delete(s.landed, dir)
			changed = append(changed, trenchOf(dir))
		}
	}
	return changed
}

// poll reads the branch and takes in what others pushed (an edit of a trench directory is
// then reported at once rather than at the operator's next write).
func (s *Sink) poll(ctx context.Context) error {
	if err := s.load(ctx); err != nil {
		return err
	}
	if s.forge != nil {
		s.queueForge(s.followReview)
	}
	st, err := s.repo.Poll(ctx)
	if err != nil || st.Commit.IsZero() {
		return err
	}
	s.mu.Lock()
	changed := s.absorb(st, st.Commit, nil)
	s.mu.Unlock()
	s.notify(ctx, changed)
	return nil
}

// WithPollInterval sets how often the branch is read for changes pushed by others (0: only
// when the operator writes).
func WithPollInterval(d time.Duration) SinkOption { return func(s *Sink) { s.pollInterval = d } }

// fail records a write failure and names the waiting trenches, so that their status shows it.
func (s *Sink) fail(ctx context.Context, err error) {
	if delivery.ReasonOf(err, "") == "" {
		err = &delivery.Error{Reason: ReasonPushFailed, Err: err}
	}
	s.mu.Lock()
	s.failure = err
	var notify []types.NamespacedName
	for _, c := range s.desired {
		notify = append(notify, c.trench)
	}
	s.mu.Unlock()
	commitFailures.Inc()
	s.notify(ctx, notify)
}

func (s *Sink) notify(ctx context.Context, trenches []types.NamespacedName) {
	seen := map[types.NamespacedName]bool{}
	for _, t := range trenches {
		if seen[t] {
			continue
		}
		seen[t] = true
		select {
		case s.events <- event.GenericEvent{Object: &meridiov1.Trench{ObjectMeta: objectMeta(t)}}:
		case <-ctx.Done():
			return
		}
	}
}

func trenchOf(dir string) types.NamespacedName {
	ns, name, _ := strings.Cut(dir, "/")
	return types.NamespacedName{Namespace: ns, Name: name}
}

// changedFiles lists the files of a new directory tree that differ from the old one, in order.
func changedFiles(old plumbing.Hash, existed bool, repo *Repository, d *dirTree) []string {
	var before *object.Tree
	if existed {
		before, _ = repo.tree(old)
	}
	fc := fileChanges(before, d.tree)
	out := append(fc.Added, fc.Changed...)
	sort.Strings(out)
	return out
}
