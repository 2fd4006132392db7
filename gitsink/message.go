package gitsink

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/meridio-operator/meridio-operator/render"
)

var (
	commitsPushed = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "meridio_operator_git_commits_pushed_total", Help: "Commits pushed to the Git repository.",
	})
	commitFailures = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "meridio_operator_git_write_failures_total", Help: "Commits that could not be made or pushed (each is retried).",
	})
)

func init() { metrics.Registry.MustRegister(commitsPushed, commitFailures) }

func objectMeta(t types.NamespacedName) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: t.Namespace, Name: t.Name}
}

// maxNamed is how many changed resources a subject names before it only counts them.
const maxNamed = 3

// WithMessageTemplate writes commit messages with t instead of the default message; the
// provenance trailers are appended whatever it writes.
func WithMessageTemplate(t *MessageTemplate) SinkOption { return func(s *Sink) { s.template = t } }

// message writes the commit message of a batch: the template's text, or by default a subject
// that reads well in `git log --oneline` and a body naming, per trench, the resources its
// render comes from; then, whatever the template, the provenance trailers. A template that
// fails on this batch (or writes nothing) gives the default message, with its error: it must
// not hold the delivery back. It runs under s.mu.
func (s *Sink) message(batch map[string]*change) (string, error) {
	data := s.messageData(batch)
	return composeMessage(s.template, data)
}

// composeMessage is the message of data: the template's text (the default message when t is
// nil, fails or writes nothing), then the trailers.
func composeMessage(t *MessageTemplate, data MessageData) (string, error) {
	body := defaultMessage(data)
	var err error
	if t != nil {
		var text string
		if text, err = t.Execute(data); err == nil && strings.TrimSpace(text) != "" {
			body = text
		}
	}
	return body + "\n\n" + trailers(data), err
}

// messageData describes a batch for its commit message. It runs under s.mu.
func (s *Sink) messageData(batch map[string]*change) MessageData {
	return newMessageData(batch, s.version, s.repo.Target(), func(dir string) (heldDir, bool) {
		l, ok := s.landed[dir]
		if !ok {
			return heldDir{}, false
		}
		t, _ := s.repo.tree(l.hash)
		return heldDir{hash: l.hash, tree: t, sources: s.landedSources(dir)}, true
	})
}

// heldDir is a trench directory as the branch holds it before a commit.
type heldDir struct {
	hash    plumbing.Hash
	tree    *object.Tree    // nil when unreadable
	sources []render.Source // nil when unknown
}

// newMessageData describes a batch for its commit message; held tells what the branch holds.
func newMessageData(batch map[string]*change, version, branch string, held func(dir string) (heldDir, bool)) MessageData {
	dirs := make([]string, 0, len(batch))
	for dir := range batch {
		dirs = append(dirs, dir)
	}
	sort.Strings(dirs)
	d := MessageData{Operator: version, Branch: branch}
	for _, dir := range dirs {
		c := batch[dir]
		tc := TrenchChange{Namespace: c.trench.Namespace, Name: c.trench.Name, Dir: dir, Sources: c.sources}
		var before *object.Tree
		var beforeSources []render.Source
		h, landed := held(dir)
		if landed {
			tc.OldHash = h.hash.String()
			before, beforeSources = h.tree, h.sources
		}
		var after *object.Tree
		switch {
		case c.tree == nil:
			tc.Action = "remove"
			tc.Sources = nil
		case landed:
			tc.Action = "update"
			tc.NewHash, after = c.tree.hash.String(), c.tree.tree
		default:
			tc.Action = "add"
			tc.NewHash, after = c.tree.hash.String(), c.tree.tree
		}
		tc.Changed = sourceChanges(beforeSources, tc.Sources, landed && beforeSources == nil)
		tc.Files = fileChanges(before, after)
		d.Trenches = append(d.Trenches, tc)
	}
	d.Subject = "meridio: " + subject(d)
	return d
}

// subject is the default subject line, after "meridio: ".
func subject(d MessageData) string {
	if len(d.Trenches) == 1 {
		tc := d.Trenches[0]
		switch tc.Action {
		case "remove", "add":
			return tc.Action + " " + tc.Name
		}
		out := "update " + tc.Name
		if named := nameChanges(tc.Changed); named != "" {
			out += " (" + named + ")"
		}
		return out
	}
	var updated, removed int
	for _, tc := range d.Trenches {
		if tc.Action == "remove" {
			removed++
		} else {
			updated++
		}
	}
	trenches := func(n int) string {
		if n == 1 {
			return "1 trench"
		}
		return fmt.Sprintf("%d trenches", n)
	}
	switch {
	case updated == 0:
		return "remove " + trenches(removed)
	case removed == 0:
		return "update " + trenches(updated)
	default:
		return fmt.Sprintf("update %s, remove %d", trenches(updated), removed)
	}
}

// defaultMessage is the message of a batch without a template: the subject, and per trench
// the resources its render comes from.
func defaultMessage(d MessageData) string {
	var b strings.Builder
	b.WriteString(d.Subject + "\n")
	for _, tc := range d.Trenches {
		b.WriteString("\n" + tc.Dir + ":\n")
		if tc.Action == "remove" {
			b.WriteString("  removed: the Trench no longer exists\n")
			continue
		}
		for _, src := range tc.Sources {
			b.WriteString("  " + src.String() + "\n")
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

// trailers are the provenance of a commit as Git trailers, for tools (git
// interpret-trailers, git log --format=%(trailers)); no template can leave them out.
func trailers(d MessageData) string {
	var b strings.Builder
	for _, tc := range d.Trenches {
		b.WriteString("Meridio-Trench: " + tc.Dir + "\n")
		for _, src := range tc.Sources {
			fmt.Fprintf(&b, "Meridio-Source: %s/%s uid=%s generation=%d\n", src.Kind, src.Name, src.UID, src.Generation)
		}
	}
	return b.String()
}

// sourceChanges lists the resources that are new, gone, or at another generation than in
// the render the branch holds; when that render's sources are unknown, none.
func sourceChanges(before, after []render.Source, unknown bool) []SourceChange {
	if unknown {
		return nil
	}
	old := map[string]render.Source{}
	for _, s := range before {
		old[s.Kind+"/"+s.Name] = s
	}
	var out, gone []SourceChange
	for _, s := range after {
		key := s.Kind + "/" + s.Name
		o, ok := old[key]
		delete(old, key)
		switch {
		case !ok:
			out = append(out, SourceChange{Kind: s.Kind, Name: s.Name, UID: string(s.UID), Generation: s.Generation, Change: "added"})
		case o.Generation != s.Generation:
			out = append(out, SourceChange{Kind: s.Kind, Name: s.Name, UID: string(s.UID), Generation: s.Generation, OldGeneration: o.Generation, Change: "changed"})
		}
	}
	for _, o := range old {
		gone = append(gone, SourceChange{Kind: o.Kind, Name: o.Name, UID: string(o.UID), OldGeneration: o.Generation, Change: "removed"})
	}
	sort.Slice(gone, func(i, j int) bool { return gone[i].Kind+"/"+gone[i].Name < gone[j].Kind+"/"+gone[j].Name })
	return append(out, gone...)
}

// nameChanges names the changed resources of an update for its subject ("" when none is
// known).
func nameChanges(changes []SourceChange) string {
	names := make([]string, 0, len(changes))
	for _, c := range changes {
		name := c.Kind + " " + c.Name
		if c.Change == "removed" {
			name += " removed"
		}
		names = append(names, name)
	}
	if len(names) > maxNamed {
		return fmt.Sprintf("%s and %d more", strings.Join(names[:maxNamed], ", "), len(names)-maxNamed)
	}
	return strings.Join(names, ", ")
}

// fileChanges compares two trench directory trees (nil: none), provenance file aside.
func fileChanges(before, after *object.Tree) FileChanges {
	old := map[string]plumbing.Hash{}
	if before != nil {
		for _, e := range before.Entries {
			old[e.Name] = e.Hash
		}
	}
	var fc FileChanges
	if after != nil {
		for _, e := range after.Entries {
			h, ok := old[e.Name]
			delete(old, e.Name)
			switch {
			case e.Name == ProvenanceFile:
			case !ok:
				fc.Added = append(fc.Added, e.Name)
			case h != e.Hash:
				fc.Changed = append(fc.Changed, e.Name)
			}
		}
	}
	for name := range old {
		if name != ProvenanceFile {
			fc.Removed = append(fc.Removed, name)
		}
	}
	sort.Strings(fc.Removed)
	return fc
}

// landedSources reads the sources of the render the branch holds in dir from its provenance
// file (nil when unknown). It runs under s.mu.
func (s *Sink) landedSources(dir string) []render.Source {
	l, ok := s.landed[dir]
	if !ok {
		return nil
	}
	_, p, err := s.repo.provenance(l.hash)
	if err != nil || p == nil {
		return nil
	}
	return p.Sources
}

// OfflineMessage writes the message of the commit that takes the trench directories the
// renders before hold (nil: none, a first commit) to those of the renders after, as an
// operator of version pushing to branch with t (nil: the default message) would; for trying a
// template in CI without a cluster or a repository.
func OfflineMessage(t *MessageTemplate, before, after []*render.Result, version, path, branch string) (string, error) {
	held := map[string]heldDir{}
	for _, res := range before {
		d, err := trenchTree(res, version, path)
		if err != nil {
			return "", err
		}
		held[render.Dir(res.Namespace, res.Trench)] = heldDir{hash: d.hash, tree: d.tree, sources: res.Sources}
	}
	batch := map[string]*change{}
	for _, res := range after {
		d, err := trenchTree(res, version, path)
		if err != nil {
			return "", err
		}
		dir := render.Dir(res.Namespace, res.Trench)
		if h, ok := held[dir]; ok && h.hash == d.hash {
			continue // unchanged: not in the commit
		}
		batch[dir] = &change{trench: types.NamespacedName{Namespace: res.Namespace, Name: res.Trench}, tree: d, sources: res.Sources}
	}
	for dir := range held {
		if _, ok := batch[dir]; !ok && !renders(after, dir) {
			batch[dir] = &change{trench: trenchOf(dir)}
		}
	}
	if len(batch) == 0 {
		return "", errors.New("nothing changes: the renders before and after are the same")
	}
	data := newMessageData(batch, version, branch, func(dir string) (heldDir, bool) { h, ok := held[dir]; return h, ok })
	return composeMessage(t, data)
}

// renders tells whether one of results is the trench of dir.
func renders(results []*render.Result, dir string) bool {
	for _, res := range results {
		if render.Dir(res.Namespace, res.Trench) == dir {
			return true
		}
	}
	return false
}
