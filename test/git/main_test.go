// Package git tests git mode against the real API server: the operator commits renders to a
// repository on a real Git server, a stand-in for Flux (the libraries kustomize-controller
// uses: fluxcd/pkg/kustomize to build, fluxcd/pkg/ssa to apply and prune) applies the
// committed path, and the operator reports status from what was applied.
package git

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/controllers"
	"github.com/meridio-operator/meridio-operator/gitsink"
	"github.com/meridio-operator/meridio-operator/internal/demo"
	"github.com/meridio-operator/meridio-operator/internal/localapi"
	"github.com/meridio-operator/meridio-operator/internal/testutil"
	"github.com/meridio-operator/meridio-operator/render"
)

const (
	timeout = 30 * time.Second
	tick    = 50 * time.Millisecond
)

var (
	env *localapi.Env
	c   client.Client
	// bindings records the namespaces where the operator's Roles are bound.
	bindings = map[string]bool{}
)

func TestMain(m *testing.M) {
	os.Exit(testutil.Run(m, func(e ...*localapi.Env) error { env, c = e[0], e[0].Client; return nil }, localapi.Options{}))
}

// operator is one manager running the trench reconciler in git mode.
type operator struct {
	namespace string
	logs      *logBuffer
	stop      func()
}

// logBuffer collects log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startOperator runs the operator for one namespace, committing to url.
func startOperator(t *testing.T, namespace, url, cloneDir string, opts ...gitsink.SinkOption) *operator {
	return startOperatorWithDelay(t, namespace, url, cloneDir, 50*time.Millisecond, opts...)
}

// startOperatorWithDelay runs the operator with a coalescing window.
func startOperatorWithDelay(t *testing.T, namespace, url, cloneDir string, delay time.Duration, opts ...gitsink.SinkOption) *operator {
	t.Helper()
	logs := &logBuffer{}
	log := funcr.New(func(prefix, args string) {
		logs.mu.Lock()
		defer logs.mu.Unlock()
		logs.buf.WriteString(prefix + " " + args + "\n")
	}, funcr.Options{Verbosity: 1})
	// The operator runs as its service account with config/git's read-only Role (and the
	// dry-run Role of config/git-verify), on an API server that enforces owner references.
	roles := []string{"config/git/role.yaml", "config/git-verify/role.yaml"}
	if !bindings[namespace] {
		require.NoError(t, testutil.BindOperatorRole(context.Background(), c, namespace, roles...))
		bindings[namespace] = true
	}
	mgr, err := ctrl.NewManager(testutil.AsOperator(env.Config, namespace), ctrl.Options{
		Scheme:                 localapi.Scheme(),
		Logger:                 log,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  cache.Options{DefaultNamespaces: map[string]cache.Config{namespace: {}}},
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	require.NoError(t, err)
	repo, err := gitsink.NewRepository(url, "main", cloneDir, gitsink.WithPath("clusters/prod"), gitsink.WithRetry(5, 20*time.Millisecond))
	require.NoError(t, err)
	opts = append([]gitsink.SinkOption{gitsink.WithCommitDelay(delay), gitsink.WithRetryBackoff(100*time.Millisecond, time.Second)}, opts...)
	sink := gitsink.NewSink(repo, mgr.GetClient(), opts...)
	require.NoError(t, mgr.Add(sink))
	require.NoError(t, controllers.Setup(mgr, sink, controllers.Options{Settings: render.DefaultSettings(), Namespace: namespace}))
	ctx, cancel := context.WithCancel(logr.NewContext(context.Background(), log))
	done := make(chan struct{})
	go func() { _ = mgr.Start(ctx); close(done) }()
	o := &operator{namespace: namespace, logs: logs}
	var once sync.Once
	o.stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(o.stop)
	return o
}

// bareRemote creates an empty bare repository served over file://.
func bareRemote(t *testing.T) (url, bare string) {
	t.Helper()
	bare = filepath.Join(t.TempDir(), "fleet.git")
	testutil.Git(t, "", "init", "--quiet", "--bare", "-b", "main", bare)
	return "file://" + bare, bare
}

// flux stands in for Flux's kustomize-controller: demo.Applier builds the committed path with
// fluxcd/pkg/kustomize and applies it with fluxcd/pkg/ssa, pruning what it no longer builds.
type flux struct{ demo.Applier }

func newFlux(bare, path string) *flux {
	return &flux{demo.Applier{Repo: bare, Branch: "main", Path: path, Client: c}}
}

// reconcile applies one revision.
func (f *flux) reconcile(t *testing.T, revision string) {
	t.Helper()
	require.NoError(t, f.ApplyRevision(context.Background(), revision).Err)
}

// trench reads a Trench.
func trench(t require.TestingT, namespace, name string) *meridiov1.Trench {
	tr := &meridiov1.Trench{}
	require.NoError(t, c.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: name}, tr))
	return tr
}

// ready returns the Ready condition of a resource.
func ready(o meridiov1.Object) *metav1.Condition {
	return apimeta.FindStatusCondition(o.MeridioStatus().Conditions, "Ready")
}

// markWorkloadsReady writes the status the kube controllers would write.
func markWorkloadsReady(t *testing.T, namespace string) {
	t.Helper()
	ctx := context.Background()
	var deps appsv1.DeploymentList
	var sets appsv1.StatefulSetList
	var dss appsv1.DaemonSetList
	for _, l := range []client.ObjectList{&deps, &sets, &dss} {
		require.NoError(t, c.List(ctx, l, client.InNamespace(namespace)))
	}
	for i := range deps.Items {
		require.NoError(t, testutil.MarkReady(ctx, c, &deps.Items[i]))
	}
	for i := range sets.Items {
		require.NoError(t, testutil.MarkReady(ctx, c, &sets.Items[i]))
	}
	for i := range dss.Items {
		require.NoError(t, testutil.MarkReady(ctx, c, &dss.Items[i]))
	}
}

// create creates YAML resources.
func create(t *testing.T, docs ...string) {
	t.Helper()
	for _, d := range docs {
		o := testutil.MustDecode(t, d)
		require.NoError(t, c.Create(context.Background(), o), o.GetName())
	}
}

// hasWarning tells whether a Warning event of reason was recorded in the namespace.
func hasWarning(t require.TestingT, ns, reason string) bool {
	var events eventsv1.EventList
	require.NoError(t, c.List(context.Background(), &events, client.InNamespace(ns)))
	for _, e := range events.Items {
		if e.Reason == reason && e.Type == corev1.EventTypeWarning {
			return true
		}
	}
	return false
}
