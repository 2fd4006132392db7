package git

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/internal/testutil"
)

// Test_gitMode_fluxEndToEnd: CRs become a commit; the operator writes no workload; once the
// Flux stand-in applies the commit and the workloads report ready, the Trench is Ready naming
// that commit. A Flow edit is a new commit, and the Trench is not Ready until it is applied.
// A trench deletion removes its directory, and Flux prunes its objects.
func Test_gitMode_fluxEndToEnd(t *testing.T) {
	ctx := context.Background()
	ns := testutil.Namespace(t, c)
	url, bare := bareRemote(t)
	op := startOperator(t, ns, url, filepath.Join(t.TempDir(), "clone"))
	create(t, testutil.TrenchSet(ns, "g1")...)

	var rev string
	require.EventuallyWithT(t, func(col *assert.CollectT) {
		tr := trench(col, ns, "g1")
		rev = tr.Status.Revision
		require.NotEmpty(col, rev, "no revision yet")
		// Its whole render: on a loaded machine the Trench can be committed before the rest.
		assert.Contains(col, testutil.GitOutput(bare, "show", "main:clusters/prod/"+ns+"/g1/configmap-meridio-configuration-g1.yaml"), "f-g1")
		assert.Equal(col, "main@sha1:"+testutil.GitOutput(bare, "rev-parse", "main"), rev)
		r := ready(tr)
		require.NotNil(col, r)
		assert.Equal(col, metav1.ConditionFalse, r.Status)
		assert.Contains(col, r.Message, rev+" is not live yet")
	}, timeout, tick)
	log := strings.Fields(testutil.Git(t, bare, "log", "--reverse", "--format=%h", "main"))
	created := len(log)
	assert.Equal(t, "meridio: add g1", testutil.Git(t, bare, "log", "-1", "--format=%s", log[0]))
	files := testutil.Git(t, bare, "ls-tree", "-r", "--name-only", "main")
	assert.Contains(t, files, "clusters/prod/kustomization.yaml")
	assert.Contains(t, files, "clusters/prod/"+ns+"/g1/configmap-meridio-configuration-g1.yaml")
	var deps appsv1.DeploymentList
	require.NoError(t, c.List(ctx, &deps, client.InNamespace(ns)))
	assert.Empty(t, deps.Items, "git mode writes no workload")

	requireConditions(t, ns, "g1", "True", "False", "False")

	// Flux applies the commit: Applied; the kube controllers make the workloads ready: Healthy.
	fx := newFlux(bare, "clusters/prod")
	fx.reconcile(t, rev)
	require.EventuallyWithT(t, func(col *assert.CollectT) {
		requireConditions(col, ns, "g1", "True", "True", "False")
	}, timeout, tick)
	markWorkloadsReady(t, ns)
	require.EventuallyWithT(t, func(col *assert.CollectT) {
		tr := trench(col, ns, "g1")
		r := ready(tr)
		require.NotNil(col, r)
		assert.Equal(col, metav1.ConditionTrue, r.Status, r.Message)
		assert.Contains(col, r.Message, rev)
		f := &meridiov1.Flow{}
		require.NoError(col, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "f-g1"}, f))
		assert.Equal(col, metav1.ConditionTrue, ready(f).Status, ready(f).Message)
		requireConditions(col, ns, "g1", "True", "True", "True")
	}, timeout, tick)
	assert.Equal(t, 1, histogramCount(t, "meridio_operator_commit_to_applied_seconds", ns, "g1"))
	assert.Equal(t, 1, histogramCount(t, "meridio_operator_applied_to_healthy_seconds", ns, "g1"))

	// A Flow edit: a new commit; until Flux applies it, the live ConfigMap is of the old render.
	require.NoError(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		f := &meridiov1.Flow{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "f-g1"}, f); err != nil {
			return err
		}
		f.Spec.DestinationPorts = []string{"8080"}
		return c.Update(ctx, f)
	}))
	var rev2 string
	require.EventuallyWithT(t, func(col *assert.CollectT) {
		tr := trench(col, ns, "g1")
		rev2 = tr.Status.Revision
		assert.NotEqual(col, rev, rev2)
		fl := &meridiov1.Flow{}
		require.NoError(col, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "f-g1"}, fl))
		assert.Equal(col, metav1.ConditionFalse, ready(fl).Status, "an object of the old render is never Ready")
		assert.Equal(col, metav1.ConditionFalse, ready(tr).Status)
	}, timeout, tick)
	assert.Equal(t, "meridio: update g1 (Flow f-g1)", testutil.Git(t, bare, "log", "-1", "--format=%s", "main"))
	assert.Contains(t, testutil.Git(t, bare, "log", "-1", "--format=%b", "main"), "Flow/f-g1 generation 2")
	trailers := testutil.Git(t, bare, "log", "-1", "--format=%(trailers:key=Meridio-Trench,key=Meridio-Source,valueonly)", "main")
	assert.Contains(t, trailers, ns+"/g1\n")
	assert.Regexp(t, `Flow/f-g1 uid=[0-9a-f-]{36} generation=2`, trailers)
	fx.reconcile(t, rev2)
	require.EventuallyWithT(t, func(col *assert.CollectT) {
		tr := trench(col, ns, "g1")
		assert.Equal(col, metav1.ConditionTrue, ready(tr).Status, ready(tr).Message)
		assert.Contains(col, ready(tr).Message, rev2)
	}, timeout, tick)
	cm := &corev1.ConfigMap{}
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "meridio-configuration-g1"}, cm))
	assert.Contains(t, cm.Data["flows"], "8080")

	// Deleting the trench removes its directory; Flux prunes its objects.
	require.NoError(t, c.Delete(ctx, &meridiov1.Trench{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "g1"}}))
	require.EventuallyWithT(t, func(col *assert.CollectT) {
		assert.NotContains(col, testutil.Git(t, bare, "ls-tree", "-r", "--name-only", "main"), "/g1/")
	}, timeout, tick)
	assert.Equal(t, "meridio: remove g1", testutil.Git(t, bare, "log", "-1", "--format=%s", "main"))
	fx.reconcile(t, "main@sha1:"+testutil.Git(t, bare, "rev-parse", "main"))
	require.NoError(t, c.List(ctx, &deps, client.InNamespace(ns)))
	assert.Empty(t, deps.Items, "Flux pruned the trench's workloads")
	assert.Equal(t, created+2, strings.Count(testutil.Git(t, bare, "log", "--format=%h", "main"), "\n")+1, "add, update, remove, and nothing else")
	_ = op
}

// Test_gitMode_deletedWhileStopped: a trench deleted while the operator is down is removed from
// the repository at the next start (the repository is the inventory); a restart with nothing
// changed makes no commit.
func Test_gitMode_deletedWhileStopped(t *testing.T) {
	ctx := context.Background()
	ns := testutil.Namespace(t, c)
	url, bare := bareRemote(t)
	clone := filepath.Join(t.TempDir(), "clone")
	op := startOperator(t, ns, url, clone)
	create(t, testutil.TrenchSet(ns, "d1")...)
	create(t, testutil.TrenchSet(ns, "d2")...)
	require.EventuallyWithT(t, func(col *assert.CollectT) {
		for _, name := range []string{"d1", "d2"} {
			assert.NotEmpty(col, trench(col, ns, name).Status.Revision)
		}
	}, timeout, tick)
	op.stop()
	commitsBefore := testutil.Git(t, bare, "rev-list", "--count", "main")

	// A restart with nothing changed: no commit.
	op = startOperator(t, ns, url, clone)
	require.EventuallyWithT(t, func(col *assert.CollectT) {
		assert.GreaterOrEqual(col, strings.Count(op.logs.String(), `"msg"="reconciled"`), 2, "both trenches reconciled after the restart")
	}, timeout, tick)
	op.stop()
	assert.Equal(t, commitsBefore, testutil.Git(t, bare, "rev-list", "--count", "main"))

	require.NoError(t, c.Delete(ctx, &meridiov1.Trench{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "d1"}}))
	startOperator(t, ns, url, clone)
	require.EventuallyWithT(t, func(col *assert.CollectT) {
		files := testutil.Git(t, bare, "ls-tree", "-r", "--name-only", "main")
		assert.NotContains(col, files, "/d1/")
		assert.Contains(col, files, ns+"/d2/kustomization.yaml")
	}, timeout, tick)
	assert.Equal(t, "meridio: remove d1", testutil.Git(t, bare, "log", "-1", "--format=%s", "main"))
}

// Test_gitMode_remoteDownThenBack: with the remote unreachable from the start, the operator
// runs, the Trench shows GitPushFailed with a Warning event, and the render is committed by
// itself once the remote is back.
func Test_gitMode_remoteDownThenBack(t *testing.T) {
	ns := testutil.Namespace(t, c)
	bare := filepath.Join(t.TempDir(), "later.git")
	startOperator(t, ns, "file://"+bare, filepath.Join(t.TempDir(), "clone"))
	create(t, testutil.TrenchSet(ns, "r1")...)
	require.EventuallyWithT(t, func(col *assert.CollectT) {
		r := ready(trench(col, ns, "r1"))
		require.NotNil(col, r)
		assert.Equal(col, "GitPushFailed", r.Reason, r.Message)
		assert.True(col, hasWarning(col, ns, "GitPushFailed"), "a Warning event")
	}, timeout, tick)

	testutil.Git(t, "", "init", "--quiet", "--bare", "-b", "main", bare)
	require.EventuallyWithT(t, func(col *assert.CollectT) {
		tr := trench(col, ns, "r1")
		assert.Equal(col, "main@sha1:"+testutil.GitOutput(bare, "rev-parse", "main"), tr.Status.Revision)
		assert.NotEqual(col, "GitPushFailed", ready(tr).Reason)
	}, 2*timeout, tick)
}

// requireConditions checks the Committed, Applied and Healthy conditions of a Trench.
func requireConditions(t require.TestingT, ns, name, committed, applied, healthy string) {
	tr := trench(t, ns, name)
	for typ, want := range map[string]string{"Committed": committed, "Applied": applied, "Healthy": healthy} {
		c := apimeta.FindStatusCondition(tr.Status.Conditions, typ)
		require.NotNil(t, c, "no %s condition", typ)
		require.Equal(t, metav1.ConditionStatus(want), c.Status, "%s: %s", typ, c.Message)
	}
}

// histogramCount returns how many observations a histogram has for a trench.
func histogramCount(t *testing.T, name, ns, trench string) int {
	t.Helper()
	families, err := metrics.Registry.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["namespace"] == ns && labels["trench"] == trench {
				return int(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return 0
}

// Test_gitMode_externalModification: an edit a person pushes to a trench's directory is
// reported on the Trench (condition and event) and kept until the trench's resources change.
func Test_gitMode_externalModification(t *testing.T) {
	ctx := context.Background()
	ns := testutil.Namespace(t, c)
	url, bare := bareRemote(t)
	startOperator(t, ns, url, filepath.Join(t.TempDir(), "clone"))
	create(t, testutil.TrenchSet(ns, "e1")...)
	create(t, testutil.TrenchSet(ns, "e2")...)
	require.EventuallyWithT(t, func(col *assert.CollectT) {
		assert.NotEmpty(col, trench(col, ns, "e1").Status.Revision)
		assert.NotEmpty(col, trench(col, ns, "e2").Status.Revision)
	}, timeout, tick)

	wt := filepath.Join(t.TempDir(), "wt")
	testutil.Git(t, "", "clone", "--quiet", "file://"+bare, wt)
	file := filepath.Join(wt, "clusters", "prod", ns, "e1", "deployment-stateless-lb-frontend-a-e1.yaml")
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(file, []byte(strings.Replace(string(data), "replicas: 1", "replicas: 3", 1)), 0o644))
	testutil.Git(t, wt, "commit", "--quiet", "-am", "scale by hand")
	testutil.Git(t, wt, "push", "--quiet", "origin", "main")

	// The operator's next write (trench e2 changes) fetches the edit.
	require.NoError(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		f := &meridiov1.Flow{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "f-e2"}, f); err != nil {
			return err
		}
		f.Spec.DestinationPorts = []string{"9090"}
		return c.Update(ctx, f)
	}))
	require.EventuallyWithT(t, func(col *assert.CollectT) {
		tr := trench(col, ns, "e1")
		ext := apimeta.FindStatusCondition(tr.Status.Conditions, "ExternalModification")
		require.NotNil(col, ext)
		assert.Contains(col, ext.Message, "deployment-stateless-lb-frontend-a-e1.yaml")
		assert.Equal(col, "ExternalModification", ready(tr).Reason)
		assert.True(col, hasWarning(col, ns, "ExternalModification"), "an event")
	}, timeout, tick)
	assert.Contains(t, testutil.GitOutput(bare, "show", "main:clusters/prod/"+ns+"/e1/deployment-stateless-lb-frontend-a-e1.yaml"), "replicas: 3", "kept")
}
