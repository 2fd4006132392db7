package git

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/fluxcd/pkg/gittestserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/internal/testutil"
)

// objectKey names an object of a namespace.
func objectKey(ns, name string) client.ObjectKey { return client.ObjectKey{Namespace: ns, Name: name} }

// editFlow changes the destination ports of a Flow.
func editFlow(t *testing.T, ns, name, port string) {
	t.Helper()
	require.NoError(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		f := &meridiov1.Flow{}
		if err := c.Get(t.Context(), objectKey(ns, name), f); err != nil {
			return err
		}
		f.Spec.DestinationPorts = []string{port}
		return c.Update(t.Context(), f)
	}))
}

// requirePushed waits until the branch has moved on from the commit past ("": it did not
// exist) to a head that the trench reports as its revision and whose committed ConfigMap of the
// trench holds port.
func requirePushed(t *testing.T, o *operator, bare, ns, tr, past, port string) {
	t.Helper()
	require.EventuallyWithT(t, func(col *assert.CollectT) {
		head := testutil.GitOutput(bare, "rev-parse", "--verify", "--quiet", "refs/heads/main")
		require.NotEmpty(col, head)
		assert.NotEqual(col, past, head)
		assert.Equal(col, "main@sha1:"+head, trench(col, ns, tr).Status.Revision)
		assert.Contains(col, testutil.GitOutput(bare, "show", "main:clusters/prod/"+ns+"/"+tr+"/configmap-meridio-configuration-"+tr+".yaml"), port)
	}, 2*timeout, tick, "logs:\n%s", o.logs)
}

// Test_gitMode_serverRefusesPushes: a Git server whose pre-receive hook refuses every push (a
// full disk, a policy) gives GitPushFailed with the server's words, and retries with backoff;
// once the hook is gone, the next push carries the current render. The server refuses
// non-fast-forward pushes throughout: the operator never force-pushes.
func Test_gitMode_serverRefusesPushes(t *testing.T) {
	ns := testutil.Namespace(t, c)
	srv, err := gittestserver.NewTempGitServer()
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(srv.Root()) })
	require.NoError(t, srv.StartHTTP())
	t.Cleanup(srv.StopHTTP)
	bare := filepath.Join(srv.Root(), "fleet.git")
	testutil.Git(t, "", "init", "--quiet", "--bare", "-b", "main", bare)
	testutil.Git(t, bare, "config", "receive.denyNonFastForwards", "true")
	hook := filepath.Join(bare, "hooks", "pre-receive")
	require.NoError(t, os.WriteFile(hook, []byte("#!/bin/sh\necho 'error: no space left on device' >&2\nexit 1\n"), 0o755))

	o := startOperator(t, ns, srv.HTTPAddress()+"/fleet.git", filepath.Join(t.TempDir(), "clone"))
	create(t, testutil.TrenchSet(ns, "h1")...)
	require.EventuallyWithT(t, func(col *assert.CollectT) {
		r := ready(trench(col, ns, "h1"))
		require.NotNil(col, r)
		assert.Equal(col, "GitPushFailed", r.Reason, r.Message)
		assert.Contains(col, r.Message, "pre-receive hook declined")
		assert.Contains(col, r.Message, "no space left on device", "the server's own words")
	}, timeout, tick, "logs:\n%s", o.logs)
	editFlow(t, ns, "f-h1", "8443")
	assert.Empty(t, testutil.GitOutput(bare, "rev-parse", "--verify", "--quiet", "refs/heads/main"), "nothing got in")

	require.NoError(t, os.Remove(hook))
	requirePushed(t, o, bare, ns, "h1", "", "8443")
}

// Test_gitMode_branchReplaced: someone force-pushes the branch to an unrelated history. The
// operator does not force it back: its next commit goes on top of the new history, with the
// current render, and nothing of the new history is lost.
func Test_gitMode_branchReplaced(t *testing.T) {
	ns := testutil.Namespace(t, c)
	url, bare := bareRemote(t)
	o := startOperator(t, ns, url, filepath.Join(t.TempDir(), "clone"))
	create(t, testutil.TrenchSet(ns, "u1")...)
	require.EventuallyWithT(t, func(col *assert.CollectT) {
		assert.Equal(col, "main@sha1:"+testutil.GitOutput(bare, "rev-parse", "main"), trench(col, ns, "u1").Status.Revision)
	}, timeout, tick, "logs:\n%s", o.logs)

	// An unrelated history, put in place on the server.
	work := t.TempDir()
	testutil.Git(t, work, "init", "--quiet", "-b", "main")
	require.NoError(t, os.WriteFile(filepath.Join(work, "README.md"), []byte("fleet\n"), 0o644))
	testutil.Git(t, work, "add", "README.md")
	testutil.Git(t, work, "commit", "--quiet", "-m", "a new start")
	testutil.Git(t, work, "push", "--quiet", "--force", bare, "main")
	orphan := testutil.GitOutput(work, "rev-parse", "HEAD")

	editFlow(t, ns, "f-u1", "9090")
	requirePushed(t, o, bare, ns, "u1", orphan, "9090")
	testutil.Git(t, bare, "merge-base", "--is-ancestor", orphan, "main")
	files := testutil.GitOutput(bare, "ls-tree", "-r", "--name-only", "main")
	assert.Contains(t, files, "README.md", "the new history is kept")
	assert.True(t, strings.Contains(files, "clusters/prod/"+ns+"/u1/kustomization.yaml"), "the trench is committed again")
}

// Test_gitMode_serverDiskFull: the Git server's disk fills up (its repository is on a small
// tmpfs, filled to the last byte): pushes fail with GitPushFailed and the server's words, are
// retried with backoff, and once space is freed the next push carries the current render.
// Mounting needs root (CAP_SYS_ADMIN); without it the test is skipped, and
// Test_gitMode_serverRefusesPushes covers the refusal with a hook.
func Test_gitMode_serverDiskFull(t *testing.T) {
	ns := testutil.Namespace(t, c)
	srv, err := gittestserver.NewTempGitServer()
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(srv.Root()) })
	bare := filepath.Join(srv.Root(), "fleet.git")
	require.NoError(t, os.MkdirAll(bare, 0o755))
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", bare).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", bare).Run() })
	require.NoError(t, srv.StartHTTP())
	t.Cleanup(srv.StopHTTP)
	testutil.Git(t, "", "init", "--quiet", "--bare", "-b", "main", bare)

	o := startOperator(t, ns, srv.HTTPAddress()+"/fleet.git", filepath.Join(t.TempDir(), "clone"))
	create(t, testutil.TrenchSet(ns, "df1")...)
	require.EventuallyWithT(t, func(col *assert.CollectT) {
		assert.Equal(col, "main@sha1:"+testutil.GitOutput(bare, "rev-parse", "main"), trench(col, ns, "df1").Status.Revision)
	}, timeout, tick, "logs:\n%s", o.logs)

	// Fill the disk: write until the file system refuses.
	filler := filepath.Join(bare, "filler")
	f, err := os.Create(filler)
	require.NoError(t, err)
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			require.ErrorIs(t, err, syscall.ENOSPC)
			break
		}
	}
	require.NoError(t, f.Close())
	full := testutil.GitOutput(bare, "rev-parse", "main")
	// The creation may take more than one commit on a loaded machine: count from here.
	before, err := strconv.Atoi(testutil.GitOutput(bare, "rev-list", "--count", "main"))
	require.NoError(t, err)

	editFlow(t, ns, "f-df1", "8443")
	require.EventuallyWithT(t, func(col *assert.CollectT) {
		r := ready(trench(col, ns, "df1"))
		require.NotNil(col, r)
		assert.Equal(col, "GitPushFailed", r.Reason, r.Message)
	}, timeout, tick, "logs:\n%s", o.logs)
	t.Logf("refused: %s", ready(trench(t, ns, "df1")).Message)
	assert.Equal(t, full, testutil.GitOutput(bare, "rev-parse", "main"), "nothing got in")
	testutil.Git(t, bare, "fsck", "--no-dangling")

	require.NoError(t, os.Remove(filler))
	requirePushed(t, o, bare, ns, "df1", full, "8443")
	assert.Equal(t, strconv.Itoa(before+1), testutil.GitOutput(bare, "rev-list", "--count", "main"), "one commit for the edit, pushed once")
}
