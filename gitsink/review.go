package gitsink

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/delivery"
	"github.com/meridio-operator/meridio-operator/forge"
	"github.com/meridio-operator/meridio-operator/internal/shorten"
)

// StatusContextPrefix opens the context of every commit status the operator posts:
// "meridio/<namespace>/<trench>".
const StatusContextPrefix = "meridio/"

// maxStatusDescription is the longest description GitHub takes.
const maxStatusDescription = 140

// WithForge posts each trench's outcome as a commit status on the forge and, with
// pullRequests (and a push branch), opens and follows the pull request from the push branch
// to the target branch. The forge is called from one goroutine, one call at a time.
func WithForge(c forge.Client, pullRequests bool) SinkOption {
	return func(s *Sink) {
		s.forge = c
		s.pullRequests = pullRequests
		s.forgeWork = make(chan func(context.Context), 256)
		s.posted = map[string]string{}
	}
}

// runForge makes the forge calls queued for it, until ctx ends.
func (s *Sink) runForge(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case f := <-s.forgeWork:
			f(ctx)
		}
	}
}

// queueForge queues a forge call; when the queue is full the call is dropped (statuses are
// reported again at the next reconcile, the pull request at the next push or poll).
func (s *Sink) queueForge(f func(context.Context)) bool {
	select {
	case s.forgeWork <- f:
		return true
	default:
		return false
	}
}

// reviewFor is the pull request that proposes dir's render, nil when none is. It runs under
// s.mu.
func (s *Sink) reviewFor(dir string) *delivery.Review {
	if s.review == nil || !s.reviewDirs[dir] {
		return nil
	}
	rv := *s.review
	return &rv
}

// syncReview opens or updates the pull request of the push branch, with what it changes
// against the target branch, and names the trenches whose review changed.
func (s *Sink) syncReview(ctx context.Context) {
	if !s.pullRequests || s.repo.pushBranch == "" {
		return
	}
	log := ctrl.LoggerFrom(ctx).WithName("gitsink")
	data, err := s.reviewData()
	if err != nil {
		log.Error(err, "compare the push branch with the target branch")
		return
	}
	dirs := map[string]bool{}
	for _, tc := range data.Trenches {
		dirs[tc.Dir] = true
	}
	var rv *delivery.Review
	if len(dirs) > 0 {
		pr, err := s.forge.EnsurePullRequest(ctx, forge.Change{Head: s.repo.pushBranch, Base: s.repo.branch, Title: data.Subject, Body: reviewBody(data)})
		rv = &delivery.Review{URL: pr.URL, Number: pr.Number, State: pr.State}
		if err != nil {
			rv = &delivery.Review{Err: &delivery.Error{Reason: meridiov1.PullRequestFailedReason, Err: err}}
			log.Error(err, "open or update the pull request")
		} else {
			log.Info("pull request up to date", "number", pr.Number, "url", pr.URL, "trenches", len(dirs))
		}
	}
	s.setReview(ctx, rv, dirs)
}

// setReview records the review and names the trenches it concerns, before and after.
func (s *Sink) setReview(ctx context.Context, rv *delivery.Review, dirs map[string]bool) {
	s.mu.Lock()
	var notify []types.NamespacedName
	for dir := range s.reviewDirs {
		notify = append(notify, trenchOf(dir))
	}
	for dir := range dirs {
		notify = append(notify, trenchOf(dir))
	}
	s.review, s.reviewDirs = rv, dirs
	s.mu.Unlock()
	s.notify(ctx, notify)
}

// followReview reads the state of the open pull request (merged or closed by someone).
func (s *Sink) followReview(ctx context.Context) {
	s.mu.Lock()
	rv, dirs := s.review, s.reviewDirs
	s.mu.Unlock()
	if rv == nil || rv.Err != nil || rv.State != forge.StateOpen {
		return
	}
	pr, err := s.forge.GetPullRequest(ctx, rv.Number)
	if err != nil {
		ctrl.LoggerFrom(ctx).WithName("gitsink").Error(err, "read the pull request", "number", rv.Number)
		return
	}
	if pr.State != rv.State {
		s.setReview(ctx, &delivery.Review{URL: pr.URL, Number: pr.Number, State: pr.State}, dirs)
	}
}

// reviewData describes what the push branch changes against the target branch.
func (s *Sink) reviewData() (MessageData, error) {
	base, head, err := s.repo.reviewDirs()
	if err != nil {
		return MessageData{}, err
	}
	batch := map[string]*change{}
	for dir, h := range head {
		if b, ok := base[dir]; !ok || b.hash != h.hash {
			batch[dir] = &change{trench: trenchOf(dir), tree: &dirTree{hash: h.hash, tree: h.tree}, sources: h.sources}
		}
	}
	for dir := range base {
		if _, ok := head[dir]; !ok {
			batch[dir] = &change{trench: trenchOf(dir)}
		}
	}
	return newMessageData(batch, s.version, s.repo.pushBranch, func(dir string) (heldDir, bool) {
		h, ok := base[dir]
		return h, ok
	}), nil
}

// reviewBody is the description of the pull request: per trench, the resources that changed
// and the files.
func reviewBody(d MessageData) string {
	var b strings.Builder
	b.WriteString("Opened and kept up to date by meridio-operator")
	if d.Operator != "" {
		b.WriteString(" " + d.Operator)
	}
	b.WriteString(": the renders of the trenches below. Merging delivers them. Each trench has a commit status `" +
		StatusContextPrefix + "<namespace>/<trench>`: pending once committed, success once applied and healthy, failure when the render is refused or stalled.\n")
	for _, tc := range d.Trenches {
		fmt.Fprintf(&b, "\n### %s (%s)\n\n", tc.Dir, tc.Action)
		if len(tc.Changed) > 0 {
			b.WriteString("| resource | change | generation |\n|---|---|---|\n")
			for _, c := range tc.Changed {
				gen := fmt.Sprintf("%d → %d", c.OldGeneration, c.Generation)
				switch c.Change {
				case "added":
					gen = fmt.Sprint(c.Generation)
				case "removed":
					gen = fmt.Sprint(c.OldGeneration)
				}
				fmt.Fprintf(&b, "| %s/%s | %s | %s |\n", c.Kind, c.Name, c.Change, gen)
			}
			b.WriteString("\n")
		}
		for _, f := range []struct {
			what  string
			files []string
		}{{"added", tc.Files.Added}, {"changed", tc.Files.Changed}, {"removed", tc.Files.Removed}} {
			if len(f.files) > 0 {
				fmt.Fprintf(&b, "- %d %s: %s\n", len(f.files), f.what, "`"+strings.Join(f.files, "`, `")+"`")
			}
		}
	}
	return b.String()
}

// ReportOutcome posts the trench's outcome as the commit status "meridio/<namespace>/<trench>"
// on its revision's commit (the newest commit when the render was refused before it was
// committed); an outcome already posted is not posted again.
func (s *Sink) ReportOutcome(ctx context.Context, trench types.NamespacedName, o delivery.Outcome) {
	if s.forge == nil {
		return
	}
	sha := ""
	if _, h, ok := strings.Cut(o.Revision, "@sha1:"); ok {
		sha = h
	} else if tip := s.repo.targetTip(); !tip.IsZero() {
		sha = tip.String()
	}
	if sha == "" {
		return
	}
	desc := shorten.To(o.Description, maxStatusDescription)
	st := forge.Status{Context: StatusContextPrefix + trench.Namespace + "/" + trench.Name, State: o.State, Description: desc}
	key := sha + " " + st.State + " " + desc
	s.mu.Lock()
	done := s.posted[st.Context] == key
	s.posted[st.Context] = key // taken now, so that the same outcome is queued once
	s.mu.Unlock()
	if done {
		return
	}
	queued := s.queueForge(func(ctx context.Context) {
		if err := s.forge.SetStatus(ctx, sha, st); err != nil {
			ctrl.LoggerFrom(ctx).WithName("gitsink").Error(err, "post the commit status", "context", st.Context, "commit", sha)
			s.forgetPosted(st.Context, key)
		}
	})
	if !queued {
		s.forgetPosted(st.Context, key)
	}
}

// forgetPosted lets a status that could not be posted be reported again.
func (s *Sink) forgetPosted(statusContext, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.posted[statusContext] == key {
		delete(s.posted, statusContext)
	}
}

// reviewDirs reads the trench directories of the target branch and of the push branch, with
// their trees and sources.
func (r *Repository) reviewDirs() (base, head map[string]heldDir, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.repo == nil {
		return nil, nil, fmt.Errorf("gitsink: not open")
	}
	read := func(tip plumbing.Hash) (map[string]heldDir, error) {
		dirs, err := r.trenchDirsAt(tip)
		if err != nil {
			return nil, err
		}
		out := make(map[string]heldDir, len(dirs))
		ts := treeStore{s: r.repo.Storer}
		for dir, h := range dirs {
			t, p, err := readProvenance(ts, h)
			if err != nil {
				return nil, err
			}
			hd := heldDir{hash: h, tree: t}
			if p != nil {
				hd.sources = p.Sources
			}
			out[dir] = hd
		}
		return out, nil
	}
	if base, err = read(r.tip); err != nil {
		return nil, nil, err
	}
	head, err = read(r.pushTip)
	return base, head, err
}

// targetTip is the tip of the branch pushed to, as last seen.
func (r *Repository) targetTip() plumbing.Hash {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pushBranch != "" {
		return r.pushTip
	}
	return r.tip
}
