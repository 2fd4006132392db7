package cluster

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/meridio-operator/meridio-operator/internal/testutil"
)

// The kube controllers do not run here, so tests write workload status themselves, as the
// Deployment, StatefulSet and DaemonSet controllers would.

func markDeploymentReady(t *testing.T, name string) {
	t.Helper()
	require.NoError(t, testutil.MarkReady(context.Background(), c, get(t, &appsv1.Deployment{}, name)))
}

func markStatefulSetReady(t *testing.T, name string) {
	t.Helper()
	require.NoError(t, testutil.MarkReady(context.Background(), c, get(t, &appsv1.StatefulSet{}, name)))
}

func markDaemonSetReady(t *testing.T, name string) {
	t.Helper()
	require.NoError(t, testutil.MarkReady(context.Background(), c, get(t, &appsv1.DaemonSet{}, name)))
}

// reconciles returns how many trench reconciles have finished.
func reconciles(t *testing.T) float64 {
	t.Helper()
	return sumMetric(t, "controller_runtime_reconcile_total", func(l map[string]string) bool { return l["controller"] == "trench" })
}

// sumMetric adds up the samples of the operator's counter or gauge name whose labels match.
func sumMetric(t require.TestingT, name string, match func(labels map[string]string) bool) float64 {
	families, err := metrics.Registry.Gather()
	require.NoError(t, err)
	total := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			if match(l) {
				total += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return total
}

// settle waits until the operator has made no write and finished no reconcile for two
// quiet periods in a row (one may end early on a busy machine), and returns its writes.
func settle(t *testing.T, quiet time.Duration) []string {
	t.Helper()
	var all []string
	deadline := time.Now().Add(timeout)
	last, calm := reconciles(t), 0
	for time.Now().Before(deadline) {
		time.Sleep(quiet)
		w := writes.Take()
		now := reconciles(t)
		all = append(all, w...)
		if len(w) == 0 && now == last {
			if calm++; calm == 2 {
				return all
			}
			continue
		}
		calm, last = 0, now
	}
	t.Fatalf("the operator did not settle; writes: %v", all)
	return nil
}

// applies keeps the writes of rendered objects (creates and server-side applies) among writes.
func applies(ws []string) []string {
	var out []string
	for _, w := range ws {
		verb, path, _ := strings.Cut(w, " ")
		if (verb == "PATCH" || verb == "POST") && !strings.Contains(path, "/meridio.nordix.org/") && !strings.Contains(path, "/events") {
			out = append(out, path)
		}
	}
	return out
}

// nonEvents drops event creations and patches, which are reports, not state.
func nonEvents(ws []string) []string {
	var out []string
	for _, w := range ws {
		if !strings.Contains(w, "/events") {
			out = append(out, w)
		}
	}
	return out
}
