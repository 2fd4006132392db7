package gitsink

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meridio-operator/meridio-operator/delivery"
	"github.com/meridio-operator/meridio-operator/internal/testutil"
	"github.com/meridio-operator/meridio-operator/render"
)

type assertT = assert.CollectT

// Test_Sink_lifecycle covers, over each protocol: the first commit into an empty repository
// (all trenches in one commit), bytes equal to `render --output-dir`, a file outside the owned
// path left alone, an update naming the changed resource, a no-op, and a trench removal.
func Test_Sink_lifecycle(t *testing.T) {
	srv := newServer(t)
	for _, proto := range protocols {
		t.Run(proto, func(t *testing.T) {
			r := newRemote(t, srv, proto, "lifecycle-"+proto+".git")
			s := startSink(t, r, "", WithPath("clusters/prod"))
			results := examples(t)

			revs := s.deliverAll(t, results...)
			for _, rev := range revs {
				require.True(t, strings.HasPrefix(rev, "main@sha1:"), rev)
				testutil.Git(t, r.bare, "merge-base", "--is-ancestor", strings.TrimPrefix(rev, "main@sha1:"), "main")
			}
			initial := commits(t, r.bare, "main")
			assert.Equal(t, 1, initial, "the trenches delivered together go in one commit")
			want, err := render.Files(results)
			require.NoError(t, err)
			assert.Equal(t, withPrefix(want, "clusters/prod"), files(t, checkout(t, r.cli, "main")), "the layout and bytes of render --output-dir")
			prov := testutil.Git(t, r.bare, "show", "main:clusters/prod/default/trench-a/"+ProvenanceFile)
			for _, want := range []string{"path: clusters/prod", "trench: default/trench-a", "operator: test", "settings: sha256:",
				"- generation: 0\n  kind: Trench\n  name: trench-a", "configmap-meridio-configuration-trench-a.yaml: "} {
				assert.Contains(t, prov, want)
			}
			subject := testutil.Git(t, r.bare, "log", "-1", "--format=%s", "main")
			assert.Regexp(t, `^meridio: (update \d+ trenches|add [a-z0-9-]+)$`, subject)
			assert.Contains(t, testutil.Git(t, r.bare, "log", "--format=%b", "main"), "default/trench-a:\n  Trench/trench-a generation 0")

			// Someone adds a file outside the owned path.
			wt := checkout(t, r.cli, "main")
			require.NoError(t, os.WriteFile(filepath.Join(wt, "README.md"), []byte("fleet\n"), 0o644))
			testutil.Git(t, wt, "add", "README.md")
			testutil.Git(t, wt, "commit", "--quiet", "-m", "readme")
			testutil.Git(t, wt, "push", "--quiet", "origin", "main")

			// An update of one Flow of trench-a.
			edited := renderEdited(t, func(s string) string {
				return strings.Replace(s, "destination-ports: []", "destination-ports: [\"8080\"]", 1)
			})
			for i, src := range edited[0].Sources {
				if src.Kind == "Flow" {
					edited[0].Sources[i].Generation = 2 // as the API server counts the edit
				}
			}
			s.deliverAll(t, edited...)
			assert.Equal(t, initial+2, commits(t, r.bare, "main"))
			assert.Regexp(t, `^meridio: update trench-a \(Flow [a-z0-9-]+\)$`, testutil.Git(t, r.bare, "log", "-1", "--format=%s", "main"))
			got := files(t, checkout(t, r.cli, "main"))
			assert.Equal(t, "fleet\n", got["README.md"])
			assert.Contains(t, got["clusters/prod/default/trench-a/configmap-meridio-configuration-trench-a.yaml"], "8080")

			// The same render again: no commit.
			s.deliverAll(t, edited...)
			time.Sleep(100 * time.Millisecond)
			assert.Equal(t, initial+2, commits(t, r.bare, "main"), "a no-op makes no commit")

			// Remove trench-a.
			s.removeAll(t, "default", "trench-a")
			assert.Equal(t, "meridio: remove trench-a", testutil.Git(t, r.bare, "log", "-1", "--format=%s", "main"))
			got = files(t, checkout(t, r.cli, "main"))
			for p := range got {
				assert.NotContains(t, p, "trench-a/")
			}
			assert.NotContains(t, got["clusters/prod/kustomization.yaml"], "trench-a")
			assert.Contains(t, got["clusters/prod/kustomization.yaml"], "default/")
			assert.NotContains(t, s.logs.String(), password)
		})
	}
}

// renderEdited renders the examples after an edit of trench-a's file.
func renderEdited(t *testing.T, edit func(string) string) []*render.Result {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(testutil.RepoRoot(), "examples", "trench-a.yaml")
	data, err := os.ReadFile(src)
	require.NoError(t, err)
	changed := edit(string(data))
	require.NotEqual(t, string(data), changed, "the edit changes nothing")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "trench-a.yaml"), []byte(changed), 0o644))
	return renderDir(t, dir)
}

// Test_Sink_restart: a new process reuses the clone, finds the trench directories (the
// inventory), and makes no commit for an unchanged render; a clone broken by a crash is
// rebuilt from the remote.
func Test_Sink_restart(t *testing.T) {
	srv := newServer(t)
	r := newRemote(t, srv, "file", "restart.git")
	clone := filepath.Join(t.TempDir(), "clone")
	results := examples(t)
	first := startSink(t, r, clone)
	first.deliverAll(t, results...)
	n := commits(t, r.bare, "main")

	second := startSink(t, r, clone)
	trenches, err := second.Trenches(second.ctx)
	require.NoError(t, err)
	require.Len(t, trenches, len(results))
	assert.Equal(t, results[0].Trench, trenches[0].Name)
	second.deliverAll(t, results...)
	assert.Equal(t, n, commits(t, r.bare, "main"), "no commit for unchanged renders after a restart")

	// A crash mid-write: objects and refs half-written.
	require.NoError(t, filepath.WalkDir(filepath.Join(clone, "objects"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			return os.WriteFile(p, []byte("garbage"), 0o644)
		}
		return err
	}))
	require.NoError(t, os.WriteFile(filepath.Join(clone, "HEAD"), []byte("garbage"), 0o644))
	third := startSink(t, r, clone)
	edited := renderEdited(t, func(s string) string { return strings.Replace(s, "ip-family: dualstack", "ip-family: ipv4", 1) })
	third.deliverAll(t, edited...)
	assert.Equal(t, n+1, commits(t, r.bare, "main"))
}

// Test_Sink_raceWithOtherWriters: a person pushing unrelated files and a second operator on
// another path of the same branch race with the operator; nothing is lost.
func Test_Sink_raceWithOtherWriters(t *testing.T) {
	srv := newServer(t)
	r := newRemote(t, srv, "http", "race.git")
	a := startSink(t, r, "", WithPath("a"))
	b := startSink(t, r, "", WithPath("b"))
	results := examples(t)
	a.deliverAll(t, results[0])

	duration := 30 * time.Second
	if testing.Short() {
		duration = 5 * time.Second
	}
	deadline := time.Now().Add(duration)
	var wg sync.WaitGroup
	var personCommits atomic.Int32
	wg.Add(1)
	go func() { // the person
		defer wg.Done()
		wt := checkout(t, r.cli, "main")
		for i := 0; time.Now().Before(deadline); i++ {
			name := fmt.Sprintf("notes/%d.txt", i)
			require.NoError(t, os.MkdirAll(filepath.Join(wt, "notes"), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(wt, name), []byte(name), 0o644))
			testutil.Git(t, wt, "add", name)
			testutil.Git(t, wt, "commit", "--quiet", "-m", "note "+name)
			for {
				if err := tryGit(wt, "push", "--quiet", "origin", "main"); err == nil {
					break
				}
				testutil.Git(t, wt, "pull", "--quiet", "--rebase", "origin", "main")
			}
			personCommits.Add(1)
		}
	}()
	var versions atomic.Int32
	for _, s := range []*started{a, b} {
		wg.Add(1)
		go func() { // an operator: a stream of edits of trench-a's replicas
			defer wg.Done()
			for i := 1; time.Now().Before(deadline); i++ {
				res := withReplicas(t, results[0], int32(i%7+1))
				// A failure the retries could not beat yet is reported (and retried).
				_, err := s.Deliver(s.ctx, res)
				assert.True(t, err == nil || delivery.ReasonOf(err, "") == ReasonPushFailed, "error: %v", err)
				versions.Add(1)
				time.Sleep(200 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	final := withReplicas(t, results[0], 42)
	a.deliverAll(t, final)
	b.deliverAll(t, final)

	got := files(t, checkout(t, r.cli, "main"))
	for i := 0; i < int(personCommits.Load()); i++ {
		name := fmt.Sprintf("notes/%d.txt", i)
		assert.Equal(t, name, got[name], "the person's file %s", name)
	}
	want, err := render.Files([]*render.Result{final})
	require.NoError(t, err)
	for _, prefix := range []string{"a", "b"} {
		for p, data := range withPrefix(want, prefix) {
			assert.Equal(t, data, got[p], p)
		}
	}
	t.Logf("%d notes by the person, %d renders by two operators, %d commits", personCommits.Load(), versions.Load(), commits(t, r.bare, "main"))
	assert.NotContains(t, a.logs.String()+b.logs.String(), password)
}

func tryGit(dir string, args ...string) error {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	return cmd.Run()
}

// withReplicas is res with the replicas of its Deployments set to n.
func withReplicas(t *testing.T, res *render.Result, n int32) *render.Result {
	t.Helper()
	out := *res
	out.Items = nil
	for _, it := range res.Items {
		obj := it.Object.DeepCopyObject().(client.Object)
		if d, ok := obj.(*appsv1.Deployment); ok {
			d.Spec.Replicas = &n
		}
		out.Items = append(out.Items, render.Item{Object: obj, Owner: it.Owner})
	}
	return &out
}

// Test_Sink_remoteDownThenBack: an unreachable remote fails the delivery with GitPushFailed,
// and the waiting change is pushed by itself once the remote is back.
func Test_Sink_remoteDownThenBack(t *testing.T) {
	srv := newServer(t)
	r := newRemote(t, srv, "file", "down.git")
	s := startSink(t, r, "")
	results := examples(t)
	s.deliverAll(t, results...)

	require.NoError(t, os.Rename(r.bare, r.bare+".away"))
	edited := renderEdited(t, func(s string) string { return strings.Replace(s, "ip-family: dualstack", "ip-family: ipv6", 1) })
	require.EventuallyWithT(t, func(c *assertT) {
		_, err := s.Deliver(s.ctx, edited[0])
		assert.Equal(c, ReasonPushFailed, delivery.ReasonOf(err, ""), "error: %v", err)
	}, 10*time.Second, 20*time.Millisecond)
	require.NoError(t, os.Rename(r.bare+".away", r.bare))
	s.deliverAll(t, edited...)
	assert.Contains(t, files(t, checkout(t, r.cli, "main"))["default/trench-a/configmap-meridio-configuration-trench-a.yaml"], "ipv6")
}

// Test_Sink_wrongCredentials: refused credentials are GitAuthFailed, and the password is in
// no error or log line; right credentials recover.
func Test_Sink_wrongCredentials(t *testing.T) {
	srv := newServer(t)
	r := newRemote(t, srv, "http", "auth.git")
	good := r.creds
	r.creds = &Credentials{Username: user, Password: "wrong-" + password}
	var current atomic.Pointer[Credentials]
	current.Store(r.creds)
	s := startSink(t, r, "", WithCredentials(func(context.Context) (*Credentials, error) { return current.Load(), nil }))
	results := examples(t)
	var last error
	require.EventuallyWithT(t, func(c *assertT) {
		_, last = s.Deliver(s.ctx, results[0])
		assert.Equal(c, ReasonAuthFailed, delivery.ReasonOf(last, ""), "error: %v", last)
	}, 10*time.Second, 20*time.Millisecond)
	assert.NotContains(t, last.Error(), password)
	current.Store(good)
	s.deliverAll(t, results...)
	assert.NotContains(t, s.logs.String(), password)

	// Credentials in the URL are used, and never shown.
	withUser := remote{url: strings.Replace(r.url, "http://", "http://"+user+":"+password+"@", 1), bare: r.bare}
	repo, err := NewRepository(withUser.url, "main", filepath.Join(t.TempDir(), "c"))
	require.NoError(t, err)
	assert.NotContains(t, repo.URL(), password)
	require.NoError(t, repo.Sync(s.ctx))
	bad, err := NewRepository(strings.Replace(withUser.url, password, "nope-"+password, 1), "main", filepath.Join(t.TempDir(), "d"))
	require.NoError(t, err)
	err = bad.Sync(s.ctx)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), password)
	assert.Equal(t, ReasonAuthFailed, delivery.ReasonOf(err, ""))
}

// Test_Sink_pushBranch: with a push branch, the target branch is never written; the push
// branch is rebuilt on top of it when it moves.
func Test_Sink_pushBranch(t *testing.T) {
	srv := newServer(t)
	r := newRemote(t, srv, "file", "review.git")
	wt := t.TempDir()
	testutil.Git(t, wt, "clone", "--quiet", r.cli, "w")
	wt = filepath.Join(wt, "w")
	require.NoError(t, os.WriteFile(filepath.Join(wt, "README.md"), []byte("fleet\n"), 0o644))
	testutil.Git(t, wt, "add", "README.md")
	testutil.Git(t, wt, "commit", "--quiet", "-m", "readme")
	testutil.Git(t, wt, "push", "--quiet", "origin", "HEAD:main")
	mainTip := testutil.Git(t, r.bare, "rev-parse", "main")

	s := startSink(t, r, "", WithPushBranch("meridio-review"))
	results := examples(t)
	revs := s.deliverAll(t, results...)
	assert.True(t, strings.HasPrefix(revs[0], "meridio-review@sha1:"), revs[0])
	assert.Equal(t, mainTip, testutil.Git(t, r.bare, "rev-parse", "main"), "the target branch is not written")
	testutil.Git(t, r.bare, "merge-base", "--is-ancestor", mainTip, "meridio-review")

	// main moves; the next change is rebuilt on its new tip, with the earlier change kept.
	require.NoError(t, os.WriteFile(filepath.Join(wt, "OTHER.md"), []byte("x\n"), 0o644))
	testutil.Git(t, wt, "add", "OTHER.md")
	testutil.Git(t, wt, "commit", "--quiet", "-m", "other")
	testutil.Git(t, wt, "push", "--quiet", "origin", "HEAD:main")
	newTip := testutil.Git(t, r.bare, "rev-parse", "main")
	edited := renderEdited(t, func(s string) string { return strings.Replace(s, "ip-family: dualstack", "ip-family: ipv4", 1) })
	s.deliverAll(t, edited...)
	testutil.Git(t, r.bare, "merge-base", "--is-ancestor", newTip, "meridio-review")
	got := files(t, checkout(t, r.cli, "meridio-review"))
	assert.Equal(t, "x\n", got["OTHER.md"])
	assert.Contains(t, got["default/trench-a/configmap-meridio-configuration-trench-a.yaml"], "ipv4")
	for _, res := range results {
		_, ok := got["default/"+res.Trench+"/kustomization.yaml"]
		assert.True(t, ok, "the earlier change to %s is kept", res.Trench)
	}
}

// Test_Sink_outsideEdits: a file of a trench directory edited by someone else is reported and
// not overwritten while the trench's resources are unchanged; a change of them overwrites it.
func Test_Sink_outsideEdits(t *testing.T) {
	srv := newServer(t)
	r := newRemote(t, srv, "file", "edits.git")
	s := startSink(t, r, "")
	results := examples(t)
	s.deliverAll(t, results...)
	a := trenchResult(t, results, "trench-a")

	// A person scales the load balancer by hand.
	wt := checkout(t, r.cli, "main")
	file := filepath.Join(wt, "default", "trench-a", "deployment-stateless-lb-frontend-attr1.yaml")
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(file, []byte(strings.Replace(string(data), "replicas: 1", "replicas: 3", 1)), 0o644))
	testutil.Git(t, wt, "commit", "--quiet", "-am", "scale by hand")
	testutil.Git(t, wt, "push", "--quiet", "origin", "main")

	// The operator learns of it when it next reads the branch (WithPollInterval).
	var got delivery.Result
	require.EventuallyWithT(t, func(c *assertT) {
		got, err = s.Deliver(s.ctx, a)
		require.NoError(c, err)
		assert.Equal(c, []string{"deployment-stateless-lb-frontend-attr1.yaml"}, got.Held)
	}, 10*time.Second, 20*time.Millisecond)
	time.Sleep(100 * time.Millisecond)
	assert.Contains(t, testutil.Git(t, r.bare, "show", "main:default/trench-a/deployment-stateless-lb-frontend-attr1.yaml"), "replicas: 3", "not overwritten")

	// The trench's resources change: the render replaces the edit.
	changed := *a
	changed.Sources = append([]render.Source(nil), a.Sources...)
	changed.Sources[0].Generation++
	s.deliverAll(t, &changed)
	assert.Contains(t, testutil.Git(t, r.bare, "show", "main:default/trench-a/deployment-stateless-lb-frontend-attr1.yaml"), "replicas: 1")
}

// Test_Sink_overlappingPaths: an operator whose --git-path is inside (or around) another's
// refuses to write, with a clear reason, instead of fighting.
func Test_Sink_overlappingPaths(t *testing.T) {
	srv := newServer(t)
	r := newRemote(t, srv, "file", "overlap.git")
	results := examples(t)
	outer := startSink(t, r, "", WithPath("clusters"))
	outer.deliverAll(t, results[0])
	before := commits(t, r.bare, "main")

	inner := startSink(t, r, "", WithPath("clusters/prod"))
	_, err := inner.Deliver(inner.ctx, results[1])
	require.Error(t, err)
	assert.Equal(t, ReasonPathConflict, delivery.ReasonOf(err, ""))
	assert.Contains(t, err.Error(), `--git-path "clusters"`)
	time.Sleep(100 * time.Millisecond)
	assert.Equal(t, before, commits(t, r.bare, "main"), "the second operator wrote nothing")

	// The other way round: the outer path started second.
	r2 := newRemote(t, srv, "file", "overlap2.git")
	startSink(t, r2, "", WithPath("clusters/prod")).deliverAll(t, results[0])
	outer2 := startSink(t, r2, "", WithPath("clusters"))
	_, err = outer2.Deliver(outer2.ctx, results[1])
	assert.Equal(t, ReasonPathConflict, delivery.ReasonOf(err, ""), "error: %v", err)
}

func trenchResult(t *testing.T, results []*render.Result, name string) *render.Result {
	t.Helper()
	for _, r := range results {
		if r.Trench == name {
			return r
		}
	}
	t.Fatalf("no trench %s", name)
	return nil
}
