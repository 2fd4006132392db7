package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/internal/localapi"
	"github.com/meridio-operator/meridio-operator/internal/offline"
	"github.com/meridio-operator/meridio-operator/internal/testutil"
	"github.com/meridio-operator/meridio-operator/render"
)

const (
	loadTrenches = 200
	loadUpdates  = 1000
)

// BenchmarkLoad: 200 trenches of the full example set converge, then 1,000 Flow updates come in
// a burst (8 clients at once, every Flow updated 5 times). It reports the time from the start
// of the burst until every trench's configuration holds the last update of each of its Flows
// (every ConfigMap in cluster mode, every committed ConfigMap file in git mode), the commits
// the burst made in git mode, the reconcile errors the operator logged, and its peak RSS.
func BenchmarkLoad(b *testing.B) {
	for _, mode := range []string{"cluster", "git"} {
		b.Run(mode, func(b *testing.B) {
			if b.N > 1 {
				b.Skip("one run: use -benchtime 1x")
			}
			e, err := localapi.Start(localapi.Options{NoWebhooks: true})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = e.Stop() })
			ctx := context.Background()
			ns := "load"
			check(b, e.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
			crs, _ := trenchSets(b, ns, loadTrenches)
			parallel(b, len(crs), 4, func(i int) error { return e.Client.Create(ctx, crs[i].Object) })

			dir := b.TempDir()
			kubeconfig := filepath.Join(dir, "kubeconfig")
			check(b, os.WriteFile(kubeconfig, e.KubeConfig, 0o600))
			args := []string{"run", "--namespace", ns, "--enable-webhooks=false", "--metrics-bind-address", "0",
				fmt.Sprintf("--health-probe-bind-address=127.0.0.1:%d", testutil.FreePort(b)),
				"--kube-api-qps", backlogQPS, "--kube-api-burst", backlogBurst, "--log-level", "error"}
			bare := filepath.Join(dir, "fleet.git")
			if mode == "git" {
				testutil.Git(b, "", "init", "--quiet", "--bare", "-b", "main", bare)
				args = append(args, "--sink=git", "--git-url", "file://"+bare, "--git-clone-dir", filepath.Join(dir, "clone"), "--git-verify=false")
			}
			cmd := exec.Command(testutil.OperatorBinary(b), args...)
			cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
			out := &strings.Builder{}
			cmd.Stdout, cmd.Stderr = out, out
			check(b, cmd.Start())
			b.Cleanup(func() { _ = cmd.Process.Kill() })

			configs := func() map[string]map[string]string {
				if mode == "git" {
					return committedConfigs(b, bare, ns)
				}
				return liveConfigs(b, e.Client, ns)
			}
			waitFor(b, 5*time.Minute, "the trenches to converge", func() bool { return len(configs()) == loadTrenches })
			commitsBefore := 0
			if mode == "git" {
				_, _ = fmt.Sscan(testutil.GitOutput(bare, "rev-list", "--count", "main"), &commitsBefore)
			}

			// The burst: every Flow updated 5 times, by 8 clients at once.
			start := time.Now()
			parallel(b, loadUpdates, 8, func(i int) error {
				key := client.ObjectKey{Namespace: ns, Name: fmt.Sprintf("f-t%03d", i%loadTrenches)}
				return retry.RetryOnConflict(retry.DefaultRetry, func() error {
					f := &meridiov1.Flow{}
					if err := e.Client.Get(ctx, key, f); err != nil {
						return err
					}
					f.Spec.DestinationPorts = []string{fmt.Sprint(1000 + i)}
					return e.Client.Update(ctx, f)
				})
			})
			burst := time.Since(start)
			// The last update of each Flow is what the API server holds now.
			last := make([]string, loadTrenches)
			for t := range last {
				f := &meridiov1.Flow{}
				check(b, e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: fmt.Sprintf("f-t%03d", t)}, f))
				last[t] = f.Spec.DestinationPorts[0]
			}

			want := wantConfigs(b, crs, ns, last)
			var converged time.Duration
			waitFor(b, 5*time.Minute, "every configuration to hold the last updates", func() bool {
				if reflect.DeepEqual(configs(), want) {
					converged = time.Since(start)
					return true
				}
				return false
			})
			commits := 0
			if mode == "git" {
				_, _ = fmt.Sscan(testutil.GitOutput(bare, "rev-list", "--count", "main"), &commits)
				commits -= commitsBefore
			}
			rss := peakRSS(b, cmd.Process.Pid)
			check(b, cmd.Process.Signal(syscall.SIGTERM))
			if err := cmd.Wait(); err != nil {
				b.Fatalf("operator: %v\n%s", err, out)
			}
			// Errors are retried, and logged: say what they were.
			for _, line := range strings.Split(out.String(), "\n") {
				if i := strings.Index(line, `"error":"`); i >= 0 && strings.Contains(line, `"Reconciler error"`) {
					b.Logf("reconcile error: %.200s", line[i+9:])
				}
			}
			b.ReportMetric(burst.Seconds(), "burst-s")
			b.ReportMetric(converged.Seconds(), "converged-s")
			b.ReportMetric(float64(commits), "commits")
			b.ReportMetric(float64(strings.Count(out.String(), `"Reconciler error"`)), "reconcile-errors")
			b.ReportMetric(float64(rss)/(1<<20), "peak-rss-MiB")
		})
	}
}

// parallel runs f(0..n-1) on workers goroutines and fails on the first error.
func parallel(b *testing.B, n, workers int, f func(i int) error) {
	b.Helper()
	idx := make(chan int)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range idx {
				if err := f(i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for i := range n {
		idx <- i
	}
	close(idx)
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

// wantConfigs renders the trenches with each Flow's last destination port.
func wantConfigs(b *testing.B, crs []offline.Resource, ns string, last []string) map[string]map[string]string {
	for _, r := range crs {
		if f, ok := r.Object.(*meridiov1.Flow); ok {
			var t int
			_, _ = fmt.Sscanf(f.Name, "f-t%03d", &t)
			f.Spec.DestinationPorts = []string{last[t]}
		}
	}
	out := map[string]map[string]string{}
	for _, res := range testutil.Render(b, crs, ns) {
		cm := res.Configuration.(*corev1.ConfigMap)
		out[cm.Name] = cm.Data
	}
	return out
}

// liveConfigs reads the data of the trenches' ConfigMaps.
func liveConfigs(b *testing.B, c client.Client, ns string) map[string]map[string]string {
	var cms corev1.ConfigMapList
	check(b, c.List(context.Background(), &cms, client.InNamespace(ns), client.MatchingLabels{render.LabelManagedBy: render.ManagedByValue}))
	out := map[string]map[string]string{}
	for _, cm := range cms.Items {
		out[cm.Name] = cm.Data
	}
	return out
}

// committedConfigs reads the data of the trenches' ConfigMap files on the branch.
func committedConfigs(b *testing.B, bare, ns string) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, f := range strings.Fields(testutil.GitOutput(bare, "ls-tree", "-r", "--name-only", "main", ns+"/")) {
		if !strings.Contains(f, "/configmap-") {
			continue
		}
		var cm corev1.ConfigMap
		check(b, yaml.Unmarshal([]byte(testutil.GitOutput(bare, "show", "main:"+f)), &cm))
		out[cm.Name] = cm.Data
	}
	return out
}
