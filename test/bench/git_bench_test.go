package bench

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/gittestserver"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/internal/offline"
	"github.com/meridio-operator/meridio-operator/internal/testutil"
	"github.com/meridio-operator/meridio-operator/render"
)

// repoTrenches is how many trench directories the repository holds (about 10 files each).
const repoTrenches = 1000

// edits is how many Flow edits are timed, for the operator and for the git CLI.
const edits = 20

// BenchmarkGitFlowEdit measures, with a repository of 1,000 trench directories (about
// 10,000 files), the time from a Flow edit on the API server to the pushed commit, through
// the real operator binary in git mode; and in the same run, the same change made with the
// git command-line client (write the file, git add -A, git commit, git push). It reports p50
// and p95 of both over 20 edits, and the operator's peak RSS.
func BenchmarkGitFlowEdit(b *testing.B) {
	for range b.N {
		ctx := context.Background()
		srv, err := gittestserver.NewTempGitServer()
		check(b, err)
		defer os.RemoveAll(srv.Root())
		check(b, srv.StartHTTP())
		defer srv.StopHTTP()
		bare := filepath.Join(srv.Root(), "fleet.git")
		run(b, "", "git", "init", "--quiet", "--bare", "-b", "main", bare)
		url := srv.HTTPAddress() + "/fleet.git"

		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "bench-git-"}}
		check(b, env.Client.Create(ctx, ns))
		seed(b, url, ns.Name)
		for _, d := range testutil.TrenchSet(ns.Name, "edited") {
			check(b, env.Client.Create(ctx, testutil.MustDecode(b, d)))
		}

		op := startBinary(b, ns.Name, "--sink=git", "--git-url", url, "--git-path", "clusters",
			"--git-clone-dir", filepath.Join(b.TempDir(), "clone"))
		waitFor(b, 2*time.Minute, "the trench to report its revision", func() bool {
			tr := &meridiov1.Trench{}
			return env.Client.Get(ctx, client.ObjectKey{Namespace: ns.Name, Name: "edited"}, tr) == nil && tr.Status.Revision != ""
		})
		startCommits := commitCount(b, bare)

		ref := filepath.Join(bare, "refs", "heads", "main")
		var operator []time.Duration
		for i := range edits {
			before := readRef(b, bare, ref)
			start := time.Now()
			check(b, retry.RetryOnConflict(retry.DefaultRetry, func() error {
				f := &meridiov1.Flow{}
				if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns.Name, Name: "f-edited"}, f); err != nil {
					return err
				}
				f.Spec.DestinationPorts = []string{strconv.Itoa(20000 + i)}
				return env.Client.Update(ctx, f)
			}))
			for readRef(b, bare, ref) == before {
				if time.Since(start) > time.Minute {
					b.Fatalf("edit %d not pushed after a minute; operator output:\n%s", i, op.output())
				}
				time.Sleep(time.Millisecond)
			}
			operator = append(operator, time.Since(start))
			time.Sleep(300 * time.Millisecond) // let the status settle before the next edit
		}
		if got := commitCount(b, bare) - startCommits; got != edits {
			b.Fatalf("%d commits for %d edits", got, edits)
		}
		rss := op.stop(b)

		// The same change with the git CLI, on a clone of the same repository.
		wt := filepath.Join(b.TempDir(), "wt")
		run(b, "", "git", "clone", "--quiet", url, wt)
		file := filepath.Join(wt, "clusters", ns.Name, "edited", "configmap-meridio-configuration-edited.yaml")
		var cli []time.Duration
		for i := range edits {
			data, err := os.ReadFile(file)
			check(b, err)
			start := time.Now()
			check(b, os.WriteFile(file, []byte(strings.Replace(string(data), strconv.Itoa(20000+edits-1), strconv.Itoa(30000+i), 1)+"# "+strconv.Itoa(i)+"\n"), 0o644))
			run(b, wt, "git", "add", "-A")
			run(b, wt, "git", "commit", "--quiet", "-m", "edit "+strconv.Itoa(i))
			run(b, wt, "git", "push", "--quiet", "origin", "main")
			cli = append(cli, time.Since(start))
		}

		opP50, opP95 := percentiles(operator)
		cliP50, cliP95 := percentiles(cli)
		b.ReportMetric(ms(opP50), "operator-p50-ms")
		b.ReportMetric(ms(opP95), "operator-p95-ms")
		b.ReportMetric(ms(cliP50), "cli-p50-ms")
		b.ReportMetric(ms(cliP95), "cli-p95-ms")
		b.ReportMetric(float64(cliP50)/float64(opP50), "p50-speedup")
		b.ReportMetric(float64(rss)/(1<<20), "operator-peak-rss-MiB")
	}
}

// seed pushes the render of repoTrenches trenches (in their own namespace, which the operator
// does not watch) and of the edited trench, as `render --output-dir` lays it out.
func seed(b *testing.B, url, namespace string) {
	b.Helper()
	var docs []string
	for i := range repoTrenches - 1 {
		docs = append(docs, testutil.TrenchSet("fleet", fmt.Sprintf("t%04d", i))...)
	}
	docs = append(docs, testutil.TrenchSet(namespace, "edited")...)
	resources, errs := offline.Decode("seed", strings.NewReader(strings.Join(docs, "---\n")))
	if len(errs) > 0 {
		b.Fatal(errs)
	}
	files, err := render.Files(testutil.Render(b, resources, "default"))
	check(b, err)
	wt := filepath.Join(b.TempDir(), "seed")
	run(b, "", "git", "clone", "--quiet", url, wt)
	for p, data := range files {
		full := filepath.Join(wt, "clusters", filepath.FromSlash(p))
		check(b, os.MkdirAll(filepath.Dir(full), 0o755))
		check(b, os.WriteFile(full, data, 0o644))
	}
	run(b, wt, "git", "add", "-A")
	run(b, wt, "git", "commit", "--quiet", "-m", "seed")
	run(b, wt, "git", "push", "--quiet", "origin", "HEAD:main")
}

// binaryProcess is the operator binary running against the test API server.
type binaryProcess struct {
	cmd *exec.Cmd
	out *strings.Builder
}

func (p *binaryProcess) output() string { return p.out.String() }

// stop ends the process and returns its peak RSS in bytes.
func (p *binaryProcess) stop(b *testing.B) int64 {
	b.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	check(b, err)
	var rss int64
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			check(b, err)
			rss = kb << 10
		}
	}
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
	return rss
}

// startBinary builds the operator and runs it for one namespace until it is ready.
func startBinary(b *testing.B, namespace string, args ...string) *binaryProcess {
	b.Helper()
	dir := b.TempDir()
	bin := testutil.OperatorBinary(b)
	kubeconfig := filepath.Join(dir, "kubeconfig")
	check(b, os.WriteFile(kubeconfig, env.KubeConfig, 0o600))
	probe := testutil.FreePort(b)
	cmd := exec.Command(bin, append([]string{"run", "--namespace", namespace, "--metrics-bind-address", "0",
		fmt.Sprintf("--health-probe-bind-address=127.0.0.1:%d", probe), fmt.Sprintf("--webhook-port=%d", testutil.FreePort(b)),
		"--webhook-cert-dir", env.WebhookCertDir, "--log-level", "error"}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	p := &binaryProcess{cmd: cmd, out: &strings.Builder{}}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	check(b, cmd.Start())
	b.Cleanup(func() { _ = cmd.Process.Kill() })
	waitReady(b, "the operator", probe)
	return p
}

// waitReady waits until the operator whose health probes are on port probe is ready.
func waitReady(b *testing.B, what string, probe int) {
	waitFor(b, time.Minute, what+" to be ready", func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", probe))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

func waitFor(b *testing.B, timeout time.Duration, what string, cond func() bool) {
	b.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func readRef(b *testing.B, bare, ref string) string {
	data, err := os.ReadFile(ref)
	if err != nil {
		return run(b, bare, "git", "rev-parse", "main")
	}
	return strings.TrimSpace(string(data))
}

func commitCount(b *testing.B, bare string) int {
	n, err := strconv.Atoi(run(b, bare, "git", "rev-list", "--count", "main"))
	check(b, err)
	return n
}

func run(b *testing.B, dir string, name string, args ...string) string {
	b.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=user", "GIT_AUTHOR_EMAIL=user@example.com", "GIT_COMMITTER_NAME=user", "GIT_COMMITTER_EMAIL=user@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("%s %v: %v: %s", name, args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func check(b testing.TB, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}

func percentiles(ds []time.Duration) (p50, p95 time.Duration) {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2], s[(len(s)*95+99)/100-1]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
