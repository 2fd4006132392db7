package operator

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/internal/testutil"
)

// TestRun_leaderElection runs two replicas with --leader-elect against one API server: only
// the leader reconciles; when it is killed (SIGKILL, so it cannot hand over), the other takes
// over and converges a change made in between. The failover time is logged.
func TestRun_leaderElection(t *testing.T) {
	ctx := context.Background()
	c := env.Client
	ns := "leader"
	require.NoError(t, c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	require.NoError(t, os.WriteFile(kubeconfig, env.KubeConfig, 0o600))
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
	require.NoError(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		f := &meridiov1.Flow{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "f-t"}, f); err != nil {
			return err
		}
		f.Spec.DestinationPorts = []string{"9999"}
		return c.Update(ctx, f)
	}))
	require.EventuallyWithT(t, func(col *assert.CollectT) {
		require.NoError(col, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "meridio-configuration-t"}, cm))
		assert.Contains(col, cm.Data["flows"], "9999")
	}, time.Minute, 50*time.Millisecond, "the other replica converged the change; logs:\n%s", b.logs)
	t.Logf("failover: the change made after the leader was killed was live %v later (lease duration 15 s)", time.Since(killed).Round(100*time.Millisecond))
	assert.Contains(t, b.logs.String(), "Successfully acquired lease")
	b.stop(t)
}
