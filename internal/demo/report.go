package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/render"
)

// Head returns the commit a branch of a repository points to ("" when it has none).
func Head(repoDir, branch string) (string, error) {
	_, head, err := branchHead(repoDir, branch)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return head.String(), nil
}

// branchHead opens a repository and reads the commit a branch points to.
func branchHead(repoDir, branch string) (*git.Repository, plumbing.Hash, error) {
	repo, err := git.PlainOpen(repoDir)
	if err != nil {
		return nil, plumbing.ZeroHash, err
	}
	ref, err := repo.Reference(plumbing.NewBranchReferenceName(branch), true)
	if err != nil {
		return nil, plumbing.ZeroHash, err
	}
	return repo, ref.Hash(), nil
}

// PrintCommits prints the history of a branch as `git log --stat` does.
func PrintCommits(w io.Writer, repoDir, branch string) error {
	repo, head, err := branchHead(repoDir, branch)
	if err != nil {
		return err
	}
	it, err := repo.Log(&git.LogOptions{From: head})
	if err != nil {
		return err
	}
	return it.ForEach(func(c *object.Commit) error {
		fmt.Fprintf(w, "commit %s\nAuthor: %s <%s>\nDate:   %s\n\n", c.Hash, c.Author.Name, c.Author.Email, c.Author.When.Format("Mon Jan 2 15:04:05 2006 -0700"))
		for _, line := range strings.Split(strings.TrimRight(c.Message, "\n"), "\n") {
			fmt.Fprintf(w, "    %s\n", line)
		}
		stats, err := c.Stats()
		if err != nil {
			return err
		}
		fmt.Fprintln(w)
		added, deleted := 0, 0
		for _, s := range stats {
			fmt.Fprintf(w, " %-72s | %4d %s\n", s.Name, s.Addition+s.Deletion, bar(s.Addition, s.Deletion))
			added, deleted = added+s.Addition, deleted+s.Deletion
		}
		fmt.Fprintf(w, " %d files changed, %d insertions(+), %d deletions(-)\n\n", len(stats), added, deleted)
		return nil
	})
}

// bar draws the +/- of a file's changes, at most 30 characters wide.
func bar(add, del int) string {
	total := add + del
	if total > 30 {
		add, del = add*30/total, del*30/total
	}
	return strings.Repeat("+", add) + strings.Repeat("-", del)
}

// PrintTree prints the files under path at the head of a branch.
func PrintTree(w io.Writer, repoDir, branch, path string) error {
	repo, head, err := branchHead(repoDir, branch)
	if err != nil {
		return err
	}
	c, err := repo.CommitObject(head)
	if err != nil {
		return err
	}
	files, err := c.Files()
	if err != nil {
		return err
	}
	var lines []string
	err = files.ForEach(func(f *object.File) error {
		if path == "" || strings.HasPrefix(f.Name, strings.TrimSuffix(path, "/")+"/") {
			lines = append(lines, fmt.Sprintf("  %-80s %6d bytes", f.Name, f.Size))
		}
		return nil
	})
	sort.Strings(lines)
	fmt.Fprintln(w, strings.Join(lines, "\n"))
	return err
}

// PrintTrenches prints each trench of a namespace with its status, its resources and their
// Ready conditions, and its live objects.
func PrintTrenches(ctx context.Context, w io.Writer, c client.Client, namespace string) error {
	var trenches meridiov1.TrenchList
	if err := c.List(ctx, &trenches, client.InNamespace(namespace)); err != nil {
		return err
	}
	resources, err := Resources(ctx, c, namespace)
	if err != nil {
		return err
	}
	for _, t := range trenches.Items {
		fmt.Fprintf(w, "trench %s (ip-family %s)\n", t.Name, t.Spec.IPFamily)
		if t.Status.Revision != "" {
			fmt.Fprintf(w, "  revision      %s\n", t.Status.Revision)
		}
		for _, cond := range t.Status.Conditions {
			fmt.Fprintf(w, "  %-13s %-5s %s: %s\n", cond.Type, cond.Status, cond.Reason, cond.Message)
		}
		fmt.Fprintln(w, "  resources:")
		for _, o := range resources {
			if o.GetLabels()[meridiov1.TrenchLabel] != t.Name {
				continue
			}
			ready := apimeta.FindStatusCondition(o.MeridioStatus().Conditions, "Ready")
			state := "no status yet"
			if ready != nil {
				state = fmt.Sprintf("Ready=%s %s: %s", ready.Status, ready.Reason, ready.Message)
			}
			fmt.Fprintf(w, "    %-28s %s\n", render.OwnerOf(o).Kind+"/"+o.GetName(), state)
		}
		fmt.Fprintln(w, "  live objects:")
		for _, list := range render.KindLists() {
			if err := c.List(ctx, list, client.InNamespace(namespace), client.MatchingLabels{render.LabelTrench: t.Name}); err != nil {
				return err
			}
			items, err := render.Items(list)
			if err != nil {
				return err
			}
			for _, it := range items {
				fmt.Fprintf(w, "    %-50s managers: %s\n", render.ID(it), managers(it))
			}
		}
		fmt.Fprintln(w)
	}
	return nil
}

// managers names the field managers of an object: who applied it.
func managers(o client.Object) string {
	seen := map[string]bool{}
	var out []string
	for _, m := range o.GetManagedFields() {
		if !seen[m.Manager] && m.Subresource == "" {
			seen[m.Manager] = true
			out = append(out, m.Manager)
		}
	}
	return strings.Join(out, ", ")
}

// Resources lists every Meridio resource of a namespace.
func Resources(ctx context.Context, c client.Client, namespace string) ([]meridiov1.Object, error) {
	var out []meridiov1.Object
	lists := []client.ObjectList{&meridiov1.TrenchList{}, &meridiov1.AttractorList{}, &meridiov1.GatewayList{}, &meridiov1.VipList{},
		&meridiov1.ConduitList{}, &meridiov1.StreamList{}, &meridiov1.FlowList{}}
	for _, l := range lists {
		if err := c.List(ctx, l, client.InNamespace(namespace)); err != nil {
			return nil, err
		}
		objs, err := apimeta.ExtractList(l)
		if err != nil {
			return nil, err
		}
		for _, o := range objs {
			out = append(out, o.(meridiov1.Object))
		}
	}
	return out, nil
}

// Settled tells whether every Meridio resource of a namespace reports its current generation
// and every rendered object is where the operator wants it (created and of the current
// render; readiness aside, since no kube-controller-manager runs here). In git mode, every
// trench must also name head as its revision. It returns what is still waited for.
func Settled(ctx context.Context, c client.Client, namespace, head string) (bool, string, error) {
	resources, err := Resources(ctx, c, namespace)
	if err != nil {
		return false, "", err
	}
	for _, o := range resources {
		name := render.OwnerOf(o).Kind + "/" + o.GetName()
		st := o.MeridioStatus()
		if st.ObservedGeneration != o.GetGeneration() || len(st.Conditions) == 0 {
			return false, name + " has not reported its current generation", nil
		}
		for _, cond := range st.Conditions {
			for _, waiting := range []string{"not created yet", "not updated yet", "waiting to be delivered"} {
				if strings.Contains(cond.Message, waiting) {
					return false, name + ": " + cond.Message, nil
				}
			}
		}
		if t, ok := o.(*meridiov1.Trench); ok && head != "" && !strings.HasSuffix(t.Status.Revision, ":"+head) {
			return false, name + " does not name the last commit yet", nil
		}
	}
	return true, "", nil
}
