// Package operator runs the meridio-operator binary itself (`run`) against a real API server:
// flags, namespace scope, health probes, reconciling, and a clean stop on SIGTERM.
package operator

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/internal/localapi"
	"github.com/meridio-operator/meridio-operator/internal/testutil"
)

var env *localapi.Env

func TestMain(m *testing.M) {
	os.Exit(testutil.Run(m, func(e ...*localapi.Env) error { env = e[0]; return nil }, localapi.Options{}))
}

func TestRun_binary(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	require.NoError(t, os.WriteFile(kubeconfig, env.KubeConfig, 0o600))

	c := env.Client
	for _, ns := range []string{"watched", "ignored"} {
		require.NoError(t, c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	}
	p := startBinary(t, kubeconfig, []string{"RESOURCE_NAME_PREFIX=x-", "LOG_LEVEL=INFO"}, "--namespace", "watched", "--log-level", "debug")
	logs := p.logs

	for _, ns := range []string{"watched", "ignored"} {
		for _, d := range testutil.TrenchSet(ns, "t") {
			o := testutil.MustDecode(t, d)
			require.NoError(t, c.Create(ctx, o))
		}
	}
	require.EventuallyWithT(t, func(col *assert.CollectT) {
		d := &appsv1.Deployment{}
		require.NoError(col, c.Get(ctx, client.ObjectKey{Namespace: "watched", Name: "x-stateless-lb-frontend-a-t"}, d), "the prefix from the environment")
		assert.Contains(col, d.Spec.Template.Spec.Containers[0].Env, corev1.EnvVar{Name: "NSM_LOG_LEVEL", Value: "INFO"})
		tr := &meridiov1.Trench{}
		require.NoError(col, c.Get(ctx, client.ObjectKey{Namespace: "watched", Name: "t"}, tr))
		assert.NotNil(col, apimeta.FindStatusCondition(tr.Status.Conditions, meta.ReadyCondition))
	}, 30*time.Second, 100*time.Millisecond, "reconciled; logs:\n%s", logs)
	var deps appsv1.DeploymentList
	require.NoError(t, c.List(ctx, &deps, client.InNamespace("ignored")))
	assert.Empty(t, deps.Items, "another namespace is not reconciled")
	assert.Contains(t, logs.String(), `"level":"debug"`, "--log-level debug")

	p.stop(t)
}

// process is the operator binary running against the test API server.
type process struct {
	// webhookAddr is where the webhook server listens.
	webhookAddr string
	cmd         *exec.Cmd
	logs        *testutil.LockedBuffer
	exited      chan error
}

// startBinary runs `meridio-operator run` with the webhooks and probes on free ports and
// waits until it is ready.
func startBinary(t *testing.T, kubeconfig string, environ []string, args ...string) *process {
	t.Helper()
	probe, webhook := testutil.FreePort(t), testutil.FreePort(t)
	args = append([]string{"run", "--metrics-bind-address", "0", fmt.Sprintf("--health-probe-bind-address=127.0.0.1:%d", probe),
		fmt.Sprintf("--webhook-port=%d", webhook), "--webhook-cert-dir", env.WebhookCertDir}, args...)
	cmd := exec.Command(testutil.OperatorBinary(t), args...)
	cmd.Env = append(append(os.Environ(), "KUBECONFIG="+kubeconfig), environ...)
	p := &process{webhookAddr: fmt.Sprintf("127.0.0.1:%d", webhook), cmd: cmd, logs: &testutil.LockedBuffer{}, exited: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	require.NoError(t, cmd.Start())
	go func() { p.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
	})
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", probe))
		require.NoError(c, err)
		resp.Body.Close()
		assert.Equal(c, http.StatusOK, resp.StatusCode)
	}, 30*time.Second, 100*time.Millisecond, "ready; logs:\n%s", p.logs)
	return p
}

// stop sends SIGTERM and expects a clean exit.
func (p *process) stop(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-p.exited:
		assert.NoError(t, err, "a clean stop on SIGTERM; logs:\n%s", p.logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("did not stop on SIGTERM; logs:\n%s", p.logs)
	}
}

func TestRun_badFlags(t *testing.T) {
	bin := testutil.OperatorBinary(t)
	for _, args := range [][]string{{"run", "--sink", "git"}, {"run", "--log-level", "loud"}, {"run", "--nope"}} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit, "%v: %s", args, out)
		assert.Equal(t, 2, exit.ExitCode(), "%v: %s", args, out)
	}
}
