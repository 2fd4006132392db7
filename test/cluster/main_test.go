// Package cluster tests cluster mode: the operator reconciling against a real API server, with
// the behaviours of the reference operator's end-to-end suite (SPEC §6) and more.
package cluster

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/clustersink"
	"github.com/meridio-operator/meridio-operator/controllers"
	"github.com/meridio-operator/meridio-operator/internal/localapi"
	"github.com/meridio-operator/meridio-operator/internal/testutil"
	"github.com/meridio-operator/meridio-operator/render"
)

// ns is the operator's namespace; otherNS is one it does not watch.
const (
	ns      = "meridio"
	otherNS = "elsewhere"
	timeout = 20 * time.Second
	tick    = 50 * time.Millisecond
)

var (
	env    *localapi.Env
	c      client.Client
	writes = &testutil.WriteCounter{}
	// sink is the operator's, for the tests that call it directly.
	sink *clustersink.Sink
)

func TestMain(m *testing.M) {
	ctx, stop := context.WithCancel(context.Background())
	os.Exit(testutil.Run(thenStop{m, stop}, func(e ...*localapi.Env) error {
		env, c = e[0], e[0].Client
		for _, n := range []string{ns, otherNS} {
			if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}}); err != nil {
				return err
			}
		}
		return startOperator(ctx)
	}, localapi.Options{})) // the environment's manager serves the webhooks only
}

// thenStop runs the tests, then stops the operator before the API server stops.
type thenStop struct {
	m    *testing.M
	stop func()
}

func (t thenStop) Run() int {
	defer t.stop()
	return t.m.Run()
}

// startOperator runs the operator as its own service account, bound to the generated Role
// only, on an API server that enforces owner-reference permissions (as OpenShift does).
func startOperator(ctx context.Context) error {
	if err := testutil.BindOperatorRole(ctx, c, ns, "config/rbac/role.yaml"); err != nil {
		return err
	}
	cfg := testutil.AsOperator(env.Config, ns)
	cfg.WrapTransport = writes.Wrap
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 localapi.Scheme(),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  cache.Options{DefaultNamespaces: map[string]cache.Config{ns: {}}},
	})
	if err != nil {
		return err
	}
	sink = clustersink.New(mgr)
	reconciler := &controllers.TrenchReconciler{Client: mgr.GetClient(), Sink: sink, Settings: render.DefaultSettings(),
		Namespace: ns, Recorder: mgr.GetEventRecorder("meridio-operator")}
	if err := reconciler.SetupWithManager(mgr); err != nil {
		return err
	}
	go func() {
		if err := mgr.Start(ctx); err != nil {
			panic(err)
		}
	}()
	if !mgr.GetCache().WaitForCacheSync(ctx) {
		return fmt.Errorf("the operator's cache did not sync")
	}
	return nil
}

// cr builds a Meridio resource in YAML in the operator's namespace.
func cr(kind, name, trench, spec string) string { return testutil.CR(ns, kind, name, trench, spec) }

// create creates YAML resources (namespace from the YAML).
func create(t *testing.T, docs ...string) {
	t.Helper()
	for _, d := range docs {
		o := testutil.MustDecode(t, d)
		require.NoError(t, c.Create(context.Background(), o), o.GetName())
	}
}

// trenchSet is testutil.TrenchSet in the operator's namespace.
func trenchSet(tr string) []string { return testutil.TrenchSet(ns, tr) }

// key names an object of the operator's namespace.
func key(name string) client.ObjectKey { return client.ObjectKey{Namespace: ns, Name: name} }

// get reads an object, failing the test if it is absent.
func get[T client.Object](t require.TestingT, obj T, name string) T {
	require.NoError(t, c.Get(context.Background(), key(name), obj))
	return obj
}

// exists tells whether the object exists.
func exists(obj client.Object, name string) bool {
	return c.Get(context.Background(), key(name), obj) == nil
}

// eventually waits for cond with a readable failure.
func eventually(t *testing.T, cond func(c *assert.CollectT), msg string) {
	t.Helper()
	require.EventuallyWithT(t, cond, timeout, tick, msg)
}

// configItems decodes one list key of a trench ConfigMap into item names.
func configItems(cm *corev1.ConfigMap, key string) []string {
	var names []string
	for _, line := range strings.Split(cm.Data[key], "\n") {
		if strings.HasPrefix(line, "- name: ") {
			names = append(names, strings.TrimPrefix(line, "- name: "))
		}
	}
	return names
}

// requireCondition checks one condition of a resource, ignoring the transition time.
func requireCondition(c require.TestingT, obj meridiov1.Object, typ string, status metav1.ConditionStatus, reason string) {
	cond := apimeta.FindStatusCondition(obj.MeridioStatus().Conditions, typ)
	require.NotNil(c, cond, "%s has no %s condition: %v", obj.GetName(), typ, obj.MeridioStatus().Conditions)
	require.Equal(c, status, cond.Status, "%s %s: %s", obj.GetName(), typ, cond.Message)
	require.Equal(c, reason, cond.Reason, "%s %s: %s", obj.GetName(), typ, cond.Message)
	require.Equal(c, obj.GetGeneration(), obj.MeridioStatus().ObservedGeneration)
}
