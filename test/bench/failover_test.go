package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/internal/testutil"
)

// failoverTrenches is how many trenches the two replicas share.
const failoverTrenches = 20

// replica is one operator process of the failover benchmark.
type replica struct {
	name string
	cmd  *exec.Cmd
	out  *strings.Builder
}

// startReplica runs the operator binary under the name given (a symbolic link, so that its
// user agent, and so the audit log, tells the replicas apart) with --leader-elect.
func startReplica(b *testing.B, e *backlogEnv, name, namespace string) *replica {
	dir := b.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	check(b, os.WriteFile(kubeconfig, e.KubeConfig, 0o600))
	bin := filepath.Join(dir, name)
	check(b, os.Symlink(testutil.OperatorBinary(b), bin))
	probe := testutil.FreePort(b)
	cmd := exec.Command(bin, "run", "--namespace", namespace, "--enable-webhooks=false", "--leader-elect",
		"--metrics-bind-address", "0", fmt.Sprintf("--health-probe-bind-address=127.0.0.1:%d", probe), "--log-level", "error")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	r := &replica{name: name, cmd: cmd, out: &strings.Builder{}}
	cmd.Stdout, cmd.Stderr = r.out, r.out
	check(b, cmd.Start())
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	waitReady(b, name, probe)
	return r
}

// objectWritesBy counts the writes of a replica other than to the leader election lease.
func objectWritesBy(b *testing.B, e *backlogEnv, namespace, agent string) int {
	n := 0
	for kind, count := range readWrites(b, e.auditLog, namespace, agent).byKind {
		if !strings.HasSuffix(kind, " leases") {
			n += count
		}
	}
	return n
}

// BenchmarkFailover: two replicas of the operator binary with --leader-elect (the default
// 15 s lease) share 20 trenches. Once the leader has converged them, it is killed (SIGKILL,
// so it cannot hand over) and a Flow is changed at once: failover-s is the time from the kill
// until that change is in the trench's ConfigMap. The audit log counts each replica's writes:
// the follower must have made none while it followed.
func BenchmarkFailover(b *testing.B) {
	if b.N > 1 {
		b.Skip("one run: use -benchtime 1x")
	}
	ctx := context.Background()
	ns := "failover"
	e := startAuditEnv(b, []string{ns})
	check(b, e.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	crs, want := trenchSets(b, ns, failoverTrenches)
	store(b, e, crs)
	presence := watchPresence(b, e.Config, ns, want)

	leader := startReplica(b, e, "replica-a", ns)
	lease := &coordinationv1.Lease{}
	waitFor(b, time.Minute, "a leader", func() bool {
		err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "132659e3.nordix.org"}, lease)
		return err == nil && lease.Spec.HolderIdentity != nil && *lease.Spec.HolderIdentity != ""
	})
	follower := startReplica(b, e, "replica-b", ns)
	presence.wait(b, 3*time.Minute)
	time.Sleep(3 * time.Second) // bookkeeping done, and the follower has had its chances to write
	if w := objectWritesBy(b, e, ns, "replica-b"); w != 0 {
		b.Fatalf("the follower wrote %d times", w)
	}
	leaderWrites := objectWritesBy(b, e, ns, "replica-a")

	check(b, leader.cmd.Process.Signal(syscall.SIGKILL))
	killed := time.Now()
	_ = leader.cmd.Wait()
	check(b, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		f := &meridiov1.Flow{}
		if err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "f-t000"}, f); err != nil {
			return err
		}
		f.Spec.DestinationPorts = []string{"4242"}
		return e.Client.Update(ctx, f)
	}))
	var failover time.Duration
	waitFor(b, 2*time.Minute, "the follower to converge the change", func() bool {
		cm := &corev1.ConfigMap{}
		if err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "meridio-configuration-t000"}, cm); err != nil {
			return false
		}
		if strings.Contains(cm.Data["flows"], "4242") {
			failover = time.Since(killed)
			return true
		}
		return false
	})
	check(b, follower.cmd.Process.Signal(syscall.SIGTERM))
	if err := follower.cmd.Wait(); err != nil {
		b.Fatalf("follower: %v\n%s", err, follower.out)
	}
	b.ReportMetric(failover.Seconds(), "failover-s")
	b.ReportMetric(float64(leaderWrites), "leader-writes")
	b.ReportMetric(float64(objectWritesBy(b, e, ns, "replica-b")), "follower-writes-after")
}
