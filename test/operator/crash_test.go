package operator

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meridio-operator/meridio-operator/clustersink"
	"github.com/meridio-operator/meridio-operator/internal/offline"
	"github.com/meridio-operator/meridio-operator/internal/testutil"
	"github.com/meridio-operator/meridio-operator/render"
)

// renders is what the operator must converge to for the trench sets named, with edits applied
// to their documents: the same render the webhooks' defaults give, read offline.
func renders(t *testing.T, ns string, trenches []string, edits ...func(doc string) string) []*render.Result {
	t.Helper()
	var docs []string
	for _, tr := range trenches {
		for _, d := range testutil.TrenchSet(ns, tr) {
			for _, e := range edits {
				d = e(d)
			}
			docs = append(docs, d)
		}
	}
	res, errs := offline.Decode("sets.yaml", strings.NewReader(strings.Join(docs, "---\n")))
	require.Empty(t, errs)
	snaps, errs := offline.Snapshots(res, ns)
	require.Empty(t, errs)
	var out []*render.Result
	for _, s := range snaps {
		r, err := render.Render(s, render.DefaultSettings())
		require.NoError(t, err)
		out = append(out, r)
	}
	return out
}

// createSets creates the trench sets named, without waiting for anything.
func createSets(t *testing.T, ns string, trenches []string) {
	t.Helper()
	for _, tr := range trenches {
		for _, d := range testutil.TrenchSet(ns, tr) {
			require.NoError(t, env.Client.Create(context.Background(), testutil.MustDecode(t, d)))
		}
	}
}

func names(prefix string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%s%02d", prefix, i))
	}
	return out
}

// kill ends the operator with SIGKILL, as a node failure or an OOM kill would.
func (p *process) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		t.Fatal("not killed")
	}
}

// TestCrash_gitMode kills the operator (SIGKILL) while it commits and pushes a burst of trenches,
// leaves the debris of a killed git process in its clone, and restarts it, twice: it converges
// to exactly what the resources imply, with every trench committed, none lost or removed on the
// way, and no commit that changes nothing.
func TestCrash_gitMode(t *testing.T) {
	ns := "crash-git"
	kubeconfig := namespaceAndKubeconfig(t, ns)
	dir := t.TempDir()
	bare := filepath.Join(dir, "fleet.git")
	testutil.Git(t, "", "init", "--quiet", "--bare", "-b", "main", bare)
	clone := filepath.Join(dir, "clone")
	args := []string{"--namespace", ns, "--sink=git", "--git-url", "file://" + bare, "--git-clone-dir", clone,
		"--git-commit-delay", "20ms", "--git-verify=false"}

	all := names("k", 0, 30)
	count := func(repo string) int {
		n := 0
		_, _ = fmt.Sscan(testutil.GitOutput(repo, "rev-list", "--all", "--count"), &n)
		return n
	}
	// First kill: as soon as a commit exists in the operator's clone, before or while it is
	// pushed. Second kill: at a moment of the next burst.
	for i, when := range []func() bool{
		func() bool { return count(clone) > count(bare) || count(bare) > 0 },
		func() bool { time.Sleep(400 * time.Millisecond); return true },
	} {
		p := startBinary(t, kubeconfig, nil, args...)
		createSets(t, ns, all[i*15:(i+1)*15])
		require.Eventually(t, when, 30*time.Second, time.Millisecond)
		p.kill(t)
		t.Logf("killed with %d commits in the clone, %d pushed", count(clone), count(bare))
		// What a killed git process may leave behind.
		require.NoError(t, os.WriteFile(filepath.Join(clone, "index.lock"), nil, 0o644))
		require.NoError(t, os.MkdirAll(filepath.Join(clone, "objects", "pack"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(clone, "objects", "pack", "tmp_pack_crash"), []byte("PACK\x00\x00"), 0o644))
	}
	p := startBinary(t, kubeconfig, nil, args...)
	want := renders(t, ns, all)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		files := map[string]bool{}
		for _, f := range strings.Fields(testutil.GitOutput(bare, "ls-tree", "-r", "--name-only", "main")) {
			files[f] = true
		}
		missing := 0
		for _, r := range want {
			tf, err := render.TrenchFiles(r)
			require.NoError(c, err)
			for name := range tf {
				if !files[name] {
					missing++
				}
			}
		}
		assert.Zero(c, missing, "files not committed yet")
	}, 90*time.Second, 250*time.Millisecond, "every trench committed; logs:\n%s", p.logs)
	p.stop(t)

	// The files are the render's, byte for byte.
	for _, r := range want {
		tf, err := render.TrenchFiles(r)
		require.NoError(t, err)
		for name, data := range tf {
			assert.Equal(t, strings.TrimSpace(string(data)), testutil.GitOutput(bare, "show", "main:"+name), name)
		}
	}
	// No commit that changes nothing, and no trench directory that comes and goes.
	history := strings.Split(testutil.GitOutput(bare, "log", "--reverse", "--format=%H %T", "main"), "\n")
	require.NotEmpty(t, history)
	seen := map[string]bool{}
	prevTree := ""
	for _, line := range history {
		f := strings.Fields(line)
		require.Len(t, f, 2)
		assert.NotEqual(t, prevTree, f[1], "commit %s changes nothing", f[0])
		prevTree = f[1]
		dirs := map[string]bool{}
		for _, d := range strings.Fields(testutil.GitOutput(bare, "ls-tree", "--name-only", f[0], ns+"/")) {
			dirs[d] = true
		}
		for d := range seen {
			assert.True(t, dirs[d], "%s disappeared in commit %s", d, f[0])
		}
		for d := range dirs {
			seen[d] = true
		}
	}
	assert.Len(t, seen, len(all))
}

// TestCrash_clusterMode kills the operator (SIGKILL) while it applies a backlog of trenches and
// restarts it: every object is then present with the content of the render, and nothing is
// left that the render does not name.
func TestCrash_clusterMode(t *testing.T) {
	ctx := context.Background()
	ns := "crash-cluster"
	kubeconfig := namespaceAndKubeconfig(t, ns)
	// A backlog (as after an upgrade), so that the kill comes while its applies are under way.
	all := names("c", 0, 60)
	createSets(t, ns, all)
	p := startBinary(t, kubeconfig, nil, "--namespace", ns)
	count := func() int {
		n := 0
		for _, l := range clustersink.ManagedLists() {
			require.NoError(t, env.Client.List(ctx, l, client.InNamespace(ns)))
			items, err := clustersink.Items(l)
			require.NoError(t, err)
			n += len(items)
		}
		return n
	}
	// Killed as soon as the applies have begun.
	require.Eventually(t, func() bool { return count() > 0 }, 30*time.Second, time.Millisecond)
	p.kill(t)
	applied := count()
	t.Logf("killed with %d of %d objects applied", applied, 9*len(all))
	assert.Less(t, applied, 9*len(all), "the kill came mid-apply")
	p = startBinary(t, kubeconfig, nil, "--namespace", ns)
	want := map[string]string{} // ID → content hash
	for _, r := range renders(t, ns, all) {
		for _, it := range r.Items {
			want[clustersink.ID(it.Object)] = it.Object.GetAnnotations()[render.AnnotationHash]
		}
	}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		got := map[string]string{}
		for _, l := range clustersink.ManagedLists() {
			require.NoError(c, env.Client.List(ctx, l, client.InNamespace(ns)))
			items, err := clustersink.Items(l)
			require.NoError(c, err)
			for _, o := range items {
				got[clustersink.ID(o)] = o.GetAnnotations()[render.AnnotationHash]
			}
		}
		assert.Equal(c, want, got)
	}, 60*time.Second, 250*time.Millisecond, "converged; logs:\n%s", p.logs)
	p.stop(t)
}
