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

	"github.com/fluxcd/pkg/gittestserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/internal/failpoint"
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
	return testutil.Render(t, res, ns)
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
		for _, l := range render.KindLists() {
			require.NoError(t, env.Client.List(ctx, l, client.InNamespace(ns)))
			items, err := render.Items(l)
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
	requireConverged(t, p, ns, all, 60*time.Second)
	p.stop(t)
}

// gitServer serves an empty bare repository over HTTP with the real git, refusing
// non-fast-forward pushes; it returns the repository's URL and directory.
func gitServer(t *testing.T) (url, bare string) {
	t.Helper()
	srv, err := gittestserver.NewTempGitServer()
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(srv.Root()) })
	require.NoError(t, srv.StartHTTP())
	t.Cleanup(srv.StopHTTP)
	bare = filepath.Join(srv.Root(), "fleet.git")
	testutil.Git(t, "", "init", "--quiet", "--bare", "-b", "main", bare)
	testutil.Git(t, bare, "config", "receive.denyNonFastForwards", "true")
	return srv.HTTPAddress() + "/fleet.git", bare
}

// gitCrashSetup prepares a git-mode crash test: the namespace, a Git server, and the binary's
// kubeconfig, the bare repository, the clone directory and the arguments of its runs.
func gitCrashSetup(t *testing.T, ns string) (kubeconfig, bare, clone string, args []string) {
	t.Helper()
	kubeconfig = namespaceAndKubeconfig(t, ns)
	url, bare := gitServer(t)
	clone = filepath.Join(t.TempDir(), "clone")
	return kubeconfig, bare, clone, []string{"--namespace", ns, "--sink=git", "--git-url", url, "--git-clone-dir", clone, "--git-verify=false"}
}

// commitObjects counts the commit objects of a repository, reachable or not.
func commitObjects(t *testing.T, repo string) int {
	t.Helper()
	return strings.Count(testutil.GitOutput(repo, "cat-file", "--batch-all-objects", "--batch-check=%(objecttype)"), "commit")
}

// requireOneCommitOf waits until the operator reports the branch's head as the trench's live
// revision, then requires the history to be exactly one commit, holding the render's files.
func requireOneCommitOf(t *testing.T, p *process, ns, trench, bare string, edits ...func(string) string) {
	t.Helper()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		head := testutil.GitOutput(bare, "rev-parse", "--verify", "--quiet", "refs/heads/main")
		require.NotEmpty(c, head)
		tr := &meridiov1.Trench{}
		require.NoError(c, env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: trench}, tr))
		assert.Equal(c, "main@sha1:"+head, tr.Status.Revision)
	}, time.Minute, 100*time.Millisecond, "pushed and reported; logs:\n%s", p.logs)
	assert.Equal(t, "1", testutil.GitOutput(bare, "rev-list", "--count", "main"), "the change is pushed exactly once")
	r := renders(t, ns, []string{trench}, edits...)[0]
	files, err := render.TrenchFiles(r)
	require.NoError(t, err)
	for name, data := range files {
		assert.Equal(t, strings.TrimSpace(string(data)), testutil.GitOutput(bare, "show", "main:"+name), name)
	}
}

// TestCrash_gitBeforePush kills the operator (SIGKILL, at a failpoint) right after it wrote a
// commit to its clone and before it pushed it. Restarted, it pushes the change exactly once.
func TestCrash_gitBeforePush(t *testing.T) {
	ns := "crash-before-push"
	kubeconfig, bare, clone, args := gitCrashSetup(t, ns)

	p := startBinary(t, kubeconfig, []string{failpoint.Env + "=" + failpoint.GitBeforePush}, args...)
	createSets(t, ns, []string{"b1"})
	select {
	case err := <-p.exited:
		require.ErrorContains(t, err, "signal: killed", "logs:\n%s", p.logs)
	case <-time.After(time.Minute):
		t.Fatalf("the failpoint was not reached; logs:\n%s", p.logs)
	}
	assert.Equal(t, 1, commitObjects(t, clone), "the commit was written to the clone")
	assert.Empty(t, testutil.GitOutput(bare, "rev-parse", "--verify", "--quiet", "refs/heads/main"), "and not pushed")

	p = startBinary(t, kubeconfig, nil, args...)
	requireOneCommitOf(t, p, ns, "b1", bare)
	p.stop(t)
}

// TestCrash_gitDuringPush kills the operator (SIGKILL) while the server runs its pre-receive
// hook on the operator's push, so the operator never learns whether the push landed. Restarted,
// it converges with the change in the history exactly once, whichever way the push went; a
// change made after that is pushed once more.
func TestCrash_gitDuringPush(t *testing.T) {
	ns := "crash-during-push"
	kubeconfig, bare, _, args := gitCrashSetup(t, ns)
	receiving := filepath.Join(t.TempDir(), "receiving")
	hook := filepath.Join(bare, "hooks", "pre-receive")
	require.NoError(t, os.WriteFile(hook, []byte("#!/bin/sh\ncat >/dev/null\ntouch "+receiving+"\nsleep 2\n"), 0o755))

	p := startBinary(t, kubeconfig, nil, args...)
	createSets(t, ns, []string{"d1"})
	require.Eventually(t, func() bool { _, err := os.Stat(receiving); return err == nil }, time.Minute, 5*time.Millisecond, "the push reached the hook; logs:\n%s", p.logs)
	p.kill(t)
	time.Sleep(3 * time.Second) // the hook has finished
	landed := testutil.GitOutput(bare, "rev-parse", "--verify", "--quiet", "refs/heads/main") != ""
	t.Logf("the push cut short by the kill landed: %v", landed)
	require.NoError(t, os.Remove(hook))

	p = startBinary(t, kubeconfig, nil, args...)
	requireOneCommitOf(t, p, ns, "d1", bare)
	setFlowPorts(t, ns, "f-d1", "7070")
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.Equal(c, "2", testutil.GitOutput(bare, "rev-list", "--count", "main"))
	}, time.Minute, 100*time.Millisecond, "the next change; logs:\n%s", p.logs)
	assert.Contains(t, testutil.GitOutput(bare, "show", "main:"+ns+"/d1/configmap-meridio-configuration-d1.yaml"), "7070")
	p.stop(t)
}
