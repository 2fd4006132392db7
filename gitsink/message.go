package gitsink

import (
	"fmt"
	"sort"
	"strings"

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

// message writes the commit message of a batch: a subject that reads well in
// `git log --oneline`, and a body naming, per trench, the resources its render comes from.
// It runs under s.mu.
func (s *Sink) message(batch map[string]*change) string {
	dirs := make([]string, 0, len(batch))
	var updated, removed []string
	for dir, c := range batch {
		dirs = append(dirs, dir)
		if c.tree == nil {
			removed = append(removed, c.trench.Name)
		} else {
			updated = append(updated, c.trench.Name)
		}
	}
	sort.Strings(dirs)
	var subject string
	switch {
	case len(batch) == 1 && len(removed) == 1:
		subject = "remove " + removed[0]
	case len(batch) == 1:
		dir := dirs[0]
		c := batch[dir]
		if _, ok := s.landed[dir]; !ok {
			subject = "add " + c.trench.Name
		} else {
			subject = "update " + c.trench.Name
			if changed := changedSources(s.landedSources(dir), c.sources); len(changed) > 0 {
				subject += " (" + changed + ")"
			}
		}
	default:
		var parts []string
		if len(updated) > 0 {
			parts = append(parts, fmt.Sprintf("update %d trenches", len(updated)))
		}
		if len(removed) > 0 {
			parts = append(parts, fmt.Sprintf("remove %d", len(removed)))
		}
		if len(updated) == 0 {
			parts = []string{fmt.Sprintf("remove %d trenches", len(removed))}
		}
		subject = strings.Join(parts, ", ")
	}
	var b strings.Builder
	b.WriteString("meridio: " + subject + "\n")
	for _, dir := range dirs {
		c := batch[dir]
		b.WriteString("\n" + dir + ":\n")
		if c.tree == nil {
			b.WriteString("  removed: the Trench no longer exists\n")
			continue
		}
		for _, src := range c.sources {
			b.WriteString("  " + src.String() + "\n")
		}
	}
	// The same as Git trailers, for tools (git interpret-trailers, git log --format=%(trailers)).
	b.WriteString("\n")
	for _, dir := range dirs {
		b.WriteString("Meridio-Trench: " + dir + "\n")
		for _, src := range batch[dir].sources {
			fmt.Fprintf(&b, "Meridio-Source: %s/%s uid=%s generation=%d\n", src.Kind, src.Name, src.UID, src.Generation)
		}
	}
	return b.String()
}

// changedSources names the sources whose generation differs from the last pushed render, or
// that are new or gone ("" when that is unknown).
func changedSources(before, after []render.Source) string {
	if before == nil {
		return ""
	}
	gen := map[string]int64{}
	for _, s := range before {
		gen[s.Kind+" "+s.Name] = s.Generation
	}
	var names []string
	for _, s := range after {
		key := s.Kind + " " + s.Name
		if g, ok := gen[key]; !ok || g != s.Generation {
			names = append(names, key)
		}
		delete(gen, key)
	}
	var gone []string
	for key := range gen {
		gone = append(gone, key+" removed")
	}
	sort.Strings(gone)
	names = append(names, gone...)
	if len(names) > maxNamed {
		return fmt.Sprintf("%s and %d more", strings.Join(names[:maxNamed], ", "), len(names)-maxNamed)
	}
	return strings.Join(names, ", ")
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
