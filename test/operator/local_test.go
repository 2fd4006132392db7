package operator

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/internal/localapi"
	"github.com/meridio-operator/meridio-operator/internal/testutil"
)

// runLocal runs `meridio-operator run --local` as `make run` does and returns its report.
func runLocal(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(testutil.OperatorBinary(t), append([]string{"run", "--local", "--apply", filepath.Join(testutil.RepoRoot(), "examples")}, args...)...)
	cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
	out, err := cmd.Output()
	require.NoError(t, err, "report:\n%s", out)
	return string(out)
}

// TestRunLocal_gitMode: `make run` shows the examples committed, applied by the Flux stand-in,
// and every trench naming the commit that is live; the report holds no log line.
func TestRunLocal_gitMode(t *testing.T) {
	out := runLocal(t, "--sink=git")
	head := regexp.MustCompile(`(?m)^commit ([0-9a-f]{40})$`).FindStringSubmatch(out)
	require.NotNil(t, head, out)
	for _, want := range []string{
		"== Commits (git log --stat)", "    meridio: ", "Trench/trench-a generation 1",
		"clusters/local/kustomization.yaml", "clusters/local/default/trench-a/kustomization.yaml",
		"== Applied by the Flux stand-in", "main@sha1:" + head[1] + ": 36 objects built from clusters/local",
		"managers: kustomize-controller", "Flow/flow-1                  Ready=True",
		"== Try next",
	} {
		assert.Contains(t, out, want)
	}
	for _, tr := range []string{"trench-a", "trench-m", "trench-v4", "trench-v6"} {
		assert.Regexp(t, `trench `+tr+` \(ip-family \w+\)\n  revision      main@sha1:`+head[1], out)
	}
	assert.NotContains(t, out, `"level"`, "controller logs go to a file, not the report")
	assert.Contains(t, out, "controller logs: ")
}

// TestRunLocal_clusterMode: `make run MODE=cluster` shows the operator applying the workloads.
func TestRunLocal_clusterMode(t *testing.T) {
	out := runLocal(t, "--sink=cluster")
	assert.NotContains(t, out, "== Commits")
	assert.Contains(t, out, "managers: meridio-operator")
	for _, obj := range []string{"Deployment/stateless-lb-frontend-attr1", "PodDisruptionBudget/pdb-attr1", "DaemonSet/proxy-conduit-stateless", "StatefulSet/nsp-trench-a"} {
		assert.Contains(t, out, obj)
	}
	assert.NotContains(t, out, `"level"`)
}

// TestRunLocal_interactive: with --keep-running a Flow edit through the printed kubeconfig
// becomes a commit that the Flux stand-in applies, and SIGINT stops everything and removes
// the temporary files.
func TestRunLocal_interactive(t *testing.T) {
	tmp := t.TempDir()
	cmd := exec.Command(testutil.OperatorBinary(t), "run", "--local", "--sink=git", "--keep-running", "--apply", filepath.Join(testutil.RepoRoot(), "examples"))
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	out := &testutil.LockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	var kubeconfig string
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		m := regexp.MustCompile(`export KUBECONFIG=(\S+)`).FindStringSubmatch(out.String())
		require.NotNil(c, m)
		kubeconfig = m[1]
	}, 3*time.Minute, 200*time.Millisecond, "running; output:\n%s", out)
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	require.NoError(t, err)
	c, err := client.New(cfg, client.Options{Scheme: localapi.Scheme()})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		f := &meridiov1.Flow{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "flow-1"}, f); err != nil {
			return err
		}
		f.Spec.DestinationPorts = []string{"8080"}
		return c.Update(ctx, f)
	}))
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.Contains(c, out.String(), `"meridio: update trench-a (Flow flow-1)"`)
	}, time.Minute, 200*time.Millisecond, "the edit committed and applied; output:\n%s", out)

	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	select {
	case err := <-exited:
		require.NoError(t, err, out.String())
	case <-time.After(time.Minute):
		t.Fatalf("did not stop on SIGINT; output:\n%s", out)
	}
	entries, err := os.ReadDir(tmp)
	require.NoError(t, err)
	for _, e := range entries {
		assert.False(t, strings.HasPrefix(e.Name(), "meridio-run-"), "temporary directory %s left behind", e.Name())
	}
}
