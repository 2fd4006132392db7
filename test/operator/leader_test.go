package operator

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meridio-operator/meridio-operator/internal/testutil"
)

// TestRun_leaderElection runs two replicas with --leader-elect against one API server: only
// the leader reconciles; when it is killed (SIGKILL, so it cannot hand over), the other takes
// over and converges a change made in between. The failover time is logged.
func TestRun_leaderElection(t *testing.T) {
	ctx := context.Background()
	c := env.Client
	ns := "leader"
	kubeconfig := namespaceAndKubeconfig(t, ns)
	args := []string{"--namespace", ns, "--leader-elect", "--log-level", "debug"}

	a := startBinary(t, kubeconfig, nil, args...)
	require.Eventually(t, func() bool { return strings.Contains(a.logs.String(), "Successfully acquired lease") }, 30*time.Second, 50*time.Millisecond, "logs:\n%s", a.logs)
	b := startBinary(t, kubeconfig, nil, args...)
	for _, d := range testutil.TrenchSet(ns, "t") {
		require.NoError(t, c.Create(ctx, testutil.MustDecode(t, d)))
	}
	cm := &corev1.ConfigMap{}
	require.EventuallyWithT(t, func(col *assert.CollectT) {
		require.NoError(col, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "meridio-configuration-t"}, cm))
	}, 30*time.Second, 50*time.Millisecond)
	time.Sleep(time.Second) // the follower has had every chance to write, if it wrongly would
	assert.Contains(t, a.logs.String(), `"msg":"reconciled"`, "the leader reconciles")
	assert.NotContains(t, b.logs.String(), `"msg":"reconciled"`, "the follower does not")
	assert.NotContains(t, b.logs.String(), "Successfully acquired lease")

	a.kill(t)
	killed := time.Now()
	setFlowPorts(t, ns, "f-t", "9999")
	require.EventuallyWithT(t, func(col *assert.CollectT) {
		require.NoError(col, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "meridio-configuration-t"}, cm))
		assert.Contains(col, cm.Data["flows"], "9999")
	}, time.Minute, 50*time.Millisecond, "the other replica converged the change; logs:\n%s", b.logs)
	t.Logf("failover: the change made after the leader was killed was live %v later (lease duration 15 s)", time.Since(killed).Round(100*time.Millisecond))
	assert.Contains(t, b.logs.String(), "Successfully acquired lease")
	b.stop(t)
}
