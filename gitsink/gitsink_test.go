package gitsink

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gitServer is `git daemon` serving bare repositories on 127.0.0.1, pushes allowed.
type gitServer struct {
	base string
	port int
}

func newGitServer(t *testing.T) *gitServer {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is needed for the Git server of these tests")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	s := &gitServer{base: t.TempDir(), port: port}
	cmd := exec.Command("git", "daemon", "--reuseaddr", "--export-all", "--enable=receive-pack", "--informative-errors",
		"--listen=127.0.0.1", fmt.Sprintf("--port=%d", port), "--base-path="+s.base, s.base)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	require.Eventually(t, func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
		}
		return err == nil
	}, 10*time.Second, 20*time.Millisecond)
	return s
}

// initRepo creates an empty bare repository and returns its URL.
func (s *gitServer) initRepo(t *testing.T, name string) string {
	t.Helper()
	gitCLI(t, "", "init", "--quiet", "--bare", "-b", "main", filepath.Join(s.base, name))
	return fmt.Sprintf("git://127.0.0.1:%d/%s", s.port, name)
}

// git runs the git CLI, standing in for another user of the repository.
func gitCLI(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=user", "GIT_AUTHOR_EMAIL=user@example.com", "GIT_COMMITTER_NAME=user", "GIT_COMMITTER_EMAIL=user@example.com")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "git %v: %s", args, out)
	return strings.TrimSpace(string(out))
}

// checkout clones the remote branch with the git CLI into a new directory.
func checkout(t *testing.T, url string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "checkout")
	gitCLI(t, "", "clone", "--quiet", "-b", "main", url, dir)
	return dir
}

func read(t *testing.T, dir, path string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, path))
	require.NoError(t, err)
	return string(data)
}

var fixed = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func newRepo(t *testing.T, url string, opts ...Option) *Repository {
	t.Helper()
	r, err := New(url, "main", filepath.Join(t.TempDir(), "clone"), append([]Option{WithClock(func() time.Time { return fixed }), WithRetry(5, 10*time.Millisecond)}, opts...)...)
	require.NoError(t, err)
	return r
}

func trench(name string, files ...string) Change {
	c := Change{Dir: "ns/" + name, Files: map[string][]byte{}}
	for _, f := range files {
		c.Files[f] = []byte("name: " + f + "\n")
	}
	c.Files["kustomization.yaml"] = []byte("resources: " + strings.Join(files, ",") + "\n")
	return c
}

func TestWrite_commitsPushesAndSkipsNoChange(t *testing.T) {
	ctx := context.Background()
	url := newGitServer(t).initRepo(t, "fleet.git")
	r := newRepo(t, url)

	res, err := r.Write(ctx, "render trench-a", trench("trench-a", "configmap-a.yaml", "deployment-b.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, res.Commit)
	assert.Equal(t, 1, res.Attempts)
	co := checkout(t, url)
	assert.Equal(t, res.Commit, gitCLI(t, co, "rev-parse", "HEAD"))
	assert.Equal(t, "name: configmap-a.yaml\n", read(t, co, "ns/trench-a/configmap-a.yaml"))
	assert.Equal(t, "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- ns/trench-a\n", read(t, co, "kustomization.yaml"))
	assert.Equal(t, "render trench-a", gitCLI(t, co, "log", "-1", "--format=%s"))

	again, err := r.Write(ctx, "render trench-a", trench("trench-a", "configmap-a.yaml", "deployment-b.yaml"))
	require.NoError(t, err)
	assert.Equal(t, Result{}, again, "nothing changed: no commit")
	assert.Equal(t, "no change", again.Summary())
	gitCLI(t, co, "pull", "--quiet")
	assert.Equal(t, res.Commit, gitCLI(t, co, "rev-parse", "HEAD"))
}

func TestWrite_prunesAndDeletes(t *testing.T) {
	ctx := context.Background()
	url := newGitServer(t).initRepo(t, "fleet.git")
	r := newRepo(t, url)
	_, err := r.Write(ctx, "two trenches", trench("a", "x.yaml", "y.yaml"), trench("b", "z.yaml"))
	require.NoError(t, err)

	_, err = r.Write(ctx, "a loses y", trench("a", "x.yaml"))
	require.NoError(t, err)
	co := checkout(t, url)
	_, err = os.Stat(filepath.Join(co, "ns/a/y.yaml"))
	assert.True(t, os.IsNotExist(err), "a file no longer rendered is removed")
	assert.FileExists(t, filepath.Join(co, "ns/b/z.yaml"), "another trench is untouched")

	_, err = r.Write(ctx, "b deleted", Change{Dir: "ns/b"})
	require.NoError(t, err)
	gitCLI(t, co, "pull", "--quiet")
	assert.NoDirExists(t, filepath.Join(co, "ns/b"))
	assert.Equal(t, "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- ns/a\n", read(t, co, "kustomization.yaml"))
}

// TestWrite_rebuildsOnRejectedPush: another writer pushes between our fetch and our push; our
// push is rejected, and the change is rebuilt on the new tip without losing theirs.
func TestWrite_rebuildsOnRejectedPush(t *testing.T) {
	ctx := context.Background()
	url := newGitServer(t).initRepo(t, "fleet.git")
	r := newRepo(t, url, WithPath("clusters/prod/meridio"))
	_, err := r.Write(ctx, "first", trench("a", "x.yaml"))
	require.NoError(t, err)

	other := checkout(t, url)
	raced := 0
	r.beforePush = func() {
		if raced > 0 {
			return
		}
		raced++
		require.NoError(t, os.WriteFile(filepath.Join(other, "README.md"), []byte("fleet\n"), 0o644))
		gitCLI(t, other, "add", "README.md")
		gitCLI(t, other, "commit", "--quiet", "-m", "someone else")
		gitCLI(t, other, "push", "--quiet", "origin", "main")
	}
	res, err := r.Write(ctx, "second", trench("a", "x.yaml", "w.yaml"))
	require.NoError(t, err)
	assert.Equal(t, 2, res.Attempts, "the first push was rejected")

	co := checkout(t, url)
	assert.Equal(t, "fleet\n", read(t, co, "README.md"), "the other writer's file is kept")
	assert.FileExists(t, filepath.Join(co, "clusters/prod/meridio/ns/a/w.yaml"))
	assert.Equal(t, "second\nsomeone else\nfirst", gitCLI(t, co, "log", "--format=%s"), "linear history, nothing force-pushed")
	_, err = os.Stat(filepath.Join(co, "kustomization.yaml"))
	assert.True(t, os.IsNotExist(err), "only the owned path is written")
}

// TestWrite_reusesClone: a second Repository on the same directory picks up the existing clone.
func TestWrite_reusesClone(t *testing.T) {
	ctx := context.Background()
	url := newGitServer(t).initRepo(t, "fleet.git")
	dir := filepath.Join(t.TempDir(), "clone")
	r1, err := New(url, "main", dir, WithClock(func() time.Time { return fixed }))
	require.NoError(t, err)
	first, err := r1.Write(ctx, "one", trench("a", "x.yaml"))
	require.NoError(t, err)
	r2, err := New(url, "main", dir, WithClock(func() time.Time { return fixed }))
	require.NoError(t, err)
	res, err := r2.Write(ctx, "one", trench("a", "x.yaml"))
	require.NoError(t, err)
	assert.Empty(t, res.Commit)
	res, err = r2.Write(ctx, "two", trench("a", "x.yaml", "y.yaml"))
	require.NoError(t, err)
	assert.NotEqual(t, first.Commit, res.Commit)
}

func TestNew_rejectsBadConfig(t *testing.T) {
	for _, tc := range []struct {
		url, branch, dir string
		opts             []Option
		want             string
	}{
		{"", "main", "d", nil, "no repository URL"},
		{"git://x/r", "", "d", nil, "invalid branch"},
		{"git://x/r", "a b", "d", nil, "invalid branch"},
		{"git://x/r", "main", "", nil, "no directory"},
		{"git://x/r", "main", "d", []Option{WithPath("../up")}, "outside the repository"},
		{"git://x/r", "main", "d", []Option{WithRetry(0, 0)}, "attempts"},
	} {
		_, err := New(tc.url, tc.branch, tc.dir, tc.opts...)
		require.Error(t, err)
		assert.Contains(t, err.Error(), tc.want)
	}
}

func TestWrite_rejectsBadChange(t *testing.T) {
	url := newGitServer(t).initRepo(t, "fleet.git")
	r := newRepo(t, url)
	for _, dir := range []string{"", "ns", "../ns/t", "/abs/t", "a/b/c"} {
		_, err := r.Write(context.Background(), "bad", Change{Dir: dir, Files: map[string][]byte{"f": nil}})
		assert.Error(t, err, dir)
	}
	_, err := r.Write(context.Background(), "bad", Change{Dir: "ns/t", Files: map[string][]byte{"../escape": nil}})
	assert.Error(t, err)
}

func TestWrite_unreachableRemote(t *testing.T) {
	r := newRepo(t, "git://127.0.0.1:1/none.git")
	_, err := r.Write(context.Background(), "x", trench("a", "x.yaml"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "fetch")
}
