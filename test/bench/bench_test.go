// Package bench measures cluster mode on a real API server: how long 50 trenches take to
// converge and what a steady-state reconcile costs, for the operator and for a baseline, in the
// same run. The baseline is the operator with its drift check taken out: it server-side applies
// every rendered object on every reconcile, as operators without one do.
package bench

import (
	"context"

	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/clustersink"
	"github.com/meridio-operator/meridio-operator/controllers"
	"github.com/meridio-operator/meridio-operator/delivery"
	"github.com/meridio-operator/meridio-operator/internal/localapi"
	"github.com/meridio-operator/meridio-operator/internal/testutil"
	"github.com/meridio-operator/meridio-operator/render"
)

const trenches = 50

var env *localapi.Env

func TestMain(m *testing.M) {
	testutil.LogLevel = zapcore.ErrorLevel
	os.Exit(testutil.Run(m, func(e ...*localapi.Env) error { env = e[0]; return nil }, localapi.Options{}))
}

// applyEverything is the baseline sink: every object applied, with no comparison with the
// live objects; the cluster sink it embeds then finds nothing to write and prunes.
type applyEverything struct {
	*clustersink.Sink
	c client.Client
}

func (a *applyEverything) Deliver(ctx context.Context, res *render.Result) (delivery.Result, error) {
	var out delivery.Result
	for _, it := range res.Items {
		obj := it.Object.DeepCopyObject().(client.Object)
		obj.SetOwnerReferences([]metav1.OwnerReference{{
			APIVersion: meridiov1.GroupVersion.String(), Kind: it.Owner.Kind, Name: it.Owner.Name,
			UID: it.Owner.UID, Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
		}})
		m, err := render.Clean(obj)
		if err != nil {
			return out, err
		}
		u := &unstructured.Unstructured{Object: m}
		if err := a.c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.ForceOwnership, client.FieldOwner(clustersink.FieldOwner)); err != nil {
			return out, err
		}
		out.Changed = append(out.Changed, render.ID(it.Object))
	}
	pruned, err := a.Sink.Deliver(ctx, res)
	out.Removed = pruned.Removed
	return out, err
}

// operator is one running manager with the trench reconciler, watching one namespace.
type operator struct {
	namespace  string
	writes     *testutil.WriteCounter
	reconciler *controllers.TrenchReconciler
	stop       func()
}

func startOperator(b testing.TB, baseline bool) *operator {
	b.Helper()
	ctx := context.Background()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "bench-"}}
	if err := env.Client.Create(ctx, ns); err != nil {
		b.Fatal(err)
	}
	o := &operator{namespace: ns.Name, writes: &testutil.WriteCounter{}}
	cfg := rest.CopyConfig(env.Config)
	cfg.WrapTransport = o.writes.Wrap
	cfg.QPS, cfg.Burst = 1000, 2000
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 localapi.Scheme(),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  cache.Options{DefaultNamespaces: map[string]cache.Config{ns.Name: {}}},
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		b.Fatal(err)
	}
	cs := clustersink.New(mgr)
	var sink delivery.Sink = cs
	if baseline {
		sink = &applyEverything{c: mgr.GetClient(), Sink: cs}
	}
	o.reconciler = &controllers.TrenchReconciler{Client: mgr.GetClient(), Sink: sink, Settings: render.DefaultSettings(), Recorder: mgr.GetEventRecorder("bench")}
	if err := o.reconciler.SetupWithManager(mgr); err != nil {
		b.Fatal(err)
	}
	mctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { _ = mgr.Start(mctx); close(done) }()
	mgr.GetCache().WaitForCacheSync(mctx)
	o.stop = func() { cancel(); <-done }
	return o
}

// createTrenches creates the resources of n trenches and returns when the last resource of
// each was created, by trench.
func (o *operator) createTrenches(b testing.TB, n int) map[string]time.Time {
	b.Helper()
	last := map[string]time.Time{}
	for i := range n {
		for _, doc := range testutil.TrenchSet(o.namespace, fmt.Sprintf("t%03d", i)) {
			objs, err := localapi.DecodeYAML([]byte(doc))
			if err != nil {
				b.Fatal(err)
			}
			if err := env.Client.Create(context.Background(), objs[0]); err != nil {
				b.Fatal(err)
			}
		}
		last[fmt.Sprintf("t%03d", i)] = time.Now()
	}
	return last
}

// waitConverged waits until every rendered object exists and every trench reports a status
// for its generation.
func (o *operator) waitConverged(b testing.TB, n int) {
	b.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		objects := 0
		for _, l := range render.KindLists() {
			if err := env.Client.List(ctx, l, client.InNamespace(o.namespace)); err != nil {
				b.Fatal(err)
			}
			items, err := render.Items(l)
			if err != nil {
				b.Fatal(err)
			}
			objects += len(items)
		}
		var ts meridiov1.TrenchList
		if err := env.Client.List(ctx, &ts, client.InNamespace(o.namespace)); err != nil {
			b.Fatal(err)
		}
		observed := 0
		for _, t := range ts.Items {
			if t.Status.ObservedGeneration == t.Generation {
				observed++
			}
		}
		if objects == 9*n && observed == n {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.Fatal("did not converge")
}

// settle waits until no write happened for a while and returns the writes until then.
func (o *operator) settle() []string {
	var all []string
	for {
		time.Sleep(500 * time.Millisecond)
		w := o.writes.Take()
		if len(w) == 0 {
			return all
		}
		all = append(all, w...)
	}
}

func objectWrites(ws []string) int {
	n := 0
	for _, w := range ws {
		if !strings.Contains(w, "/events") {
			n++
		}
	}
	return n
}

// BenchmarkConverge50Trenches: from creating 50 trenches of 7 resources each (through the
// webhooks, one after the other, while the operator runs) to all 450 rendered objects present
// and every trench reporting status, then a Flow edit in each. It also reports, per trench, the
// time from its last resource created to all its objects present (p50, p95).
func BenchmarkConverge50Trenches(b *testing.B) {
	for _, baseline := range []bool{false, true} {
		name := map[bool]string{false: "operator", true: "baseline-apply-everything"}[baseline]
		b.Run(name, func(b *testing.B) {
			var writes, noops, editWrites int
			var latencies []time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				o := startOperator(b, baseline)
				_, want := trenchSets(b, o.namespace, trenches)
				p := watchPresence(b, env.Config, o.namespace, want)
				b.StartTimer()
				created := o.createTrenches(b, trenches)
				o.waitConverged(b, trenches)
				b.StopTimer()
				p.wait(b, time.Minute)
				for t, at := range created {
					latencies = append(latencies, p.trenchDone[t].Sub(at))
				}
				writes += objectWrites(o.settle())
				noops += len(o.writes.TakeNoops())
				for t := range trenches {
					f := &meridiov1.Flow{}
					key := client.ObjectKey{Namespace: o.namespace, Name: fmt.Sprintf("f-t%03d", t)}
					if err := env.Client.Get(context.Background(), key, f); err != nil {
						b.Fatal(err)
					}
					f.Spec.DestinationPorts = []string{"8080"}
					if err := env.Client.Update(context.Background(), f); err != nil {
						b.Fatal(err)
					}
				}
				editWrites += objectWrites(o.settle())
				o.stop()
			}
			b.ReportMetric(float64(writes)/float64(b.N*trenches*9), "writes/object")
			b.ReportMetric(float64(noops)/float64(b.N*trenches*9), "noop-writes/object")
			b.ReportMetric(float64(editWrites)/float64(b.N*trenches), "writes/flow-edit")
			slices.Sort(latencies)
			b.ReportMetric(float64(latencies[len(latencies)/2].Milliseconds()), "trench-p50-ms")
			b.ReportMetric(float64(latencies[len(latencies)*95/100].Milliseconds()), "trench-p95-ms")
		})
	}
}

// BenchmarkSteadyStateReconcile reconciles converged trenches in which nothing changed.
func BenchmarkSteadyStateReconcile(b *testing.B) {
	for _, baseline := range []bool{false, true} {
		name := map[bool]string{false: "operator", true: "baseline-apply-everything"}[baseline]
		b.Run(name, func(b *testing.B) {
			o := startOperator(b, baseline)
			defer o.stop()
			o.createTrenches(b, 10)
			o.waitConverged(b, 10)
			o.settle()
			ctx := context.Background()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				req := ctrl.Request{NamespacedName: types.NamespacedName{Namespace: o.namespace, Name: fmt.Sprintf("t%03d", i%10)}}
				if _, err := o.reconciler.Reconcile(ctx, req); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.StopTimer()
			b.ReportMetric(float64(objectWrites(o.writes.Take()))/float64(b.N), "writes/reconcile")
		})
	}
}

// Test_steadyStateWrites checks what the benchmarks compare, on one trench: a reconcile with
// nothing to do writes nothing, where the baseline writes every object again.
func Test_steadyStateWrites(t *testing.T) {
	for baseline, want := range map[bool]int{false: 0, true: 9} {
		o := startOperator(t, baseline)
		o.createTrenches(t, 1)
		o.waitConverged(t, 1)
		o.settle()
		for range 3 {
			_, err := o.reconciler.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: o.namespace, Name: "t000"}})
			if err != nil {
				t.Fatal(err)
			}
			if got := objectWrites(o.writes.Take()); got != want {
				t.Errorf("baseline=%v: %d writes in a reconcile without a change, want %d", baseline, got, want)
			}
		}
		o.stop()
	}
}
