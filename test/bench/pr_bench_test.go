package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/internal/testutil"
)

// prEdits is how many Flow edits the pull request benchmark times.
const prEdits = 10

// BenchmarkGitPullRequest measures, on a real Gitea, the time from a Flow edit on the API
// server to the pull request of the push branch updated with it (its body names the Flow's new
// generation), through the operator binary with --git-push-branch and --git-pull-request=gitea;
// and, for the same edits, the time to the push alone (the push branch's new tip on Gitea), the
// baseline: the difference is what keeping the pull request up to date costs. p50 of 10.
func BenchmarkGitPullRequest(b *testing.B) {
	for range b.N {
		ctx := context.Background()
		g := testutil.StartGitea(b, "operator@example.com")
		g.CreateRepo(b, "fleet")
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "bench-pr-"}}
		check(b, env.Client.Create(ctx, ns))
		check(b, env.Client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "gitea"},
			Data: map[string][]byte{"username": []byte(g.User), "password": []byte(g.Token)}}))
		for _, d := range testutil.TrenchSet(ns.Name, "edited") {
			check(b, env.Client.Create(ctx, testutil.MustDecode(b, d)))
		}
		op := startBinary(b, ns.Name, "--sink=git", "--git-url", g.URL+"operator/fleet.git", "--git-secret", "gitea",
			"--git-push-branch", "meridio-review", "--git-pull-request", "gitea", "--git-clone-dir", filepath.Join(b.TempDir(), "clone"))
		tip := func() string {
			var br struct{ Commit struct{ ID string } }
			if status, data := g.Call(b, "GET", "repos/operator/fleet/branches/meridio-review", nil, false); status == 200 {
				_ = json.Unmarshal(data, &br)
			}
			return br.Commit.ID
		}
		body := func() string {
			var prs []struct{ Body string }
			if status, data := g.Call(b, "GET", "repos/operator/fleet/pulls?state=open", nil, false); status == 200 {
				_ = json.Unmarshal(data, &prs)
			}
			if len(prs) != 1 {
				return ""
			}
			return prs[0].Body
		}
		waitFor(b, 2*time.Minute, "the pull request to be opened", func() bool { return body() != "" })
		var pushed, updated []time.Duration
		for i := range prEdits {
			before := tip()
			start := time.Now()
			var gen int64
			check(b, retry.RetryOnConflict(retry.DefaultRetry, func() error {
				f := &meridiov1.Flow{}
				if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns.Name, Name: "f-edited"}, f); err != nil {
					return err
				}
				f.Spec.DestinationPorts = []string{strconv.Itoa(20000 + i)}
				if err := env.Client.Update(ctx, f); err != nil {
					return err
				}
				gen = f.Generation
				return nil
			}))
			want := fmt.Sprintf("| Flow/f-edited | added | %d |", gen)
			var push time.Duration
			for {
				if push == 0 && tip() != before {
					push = time.Since(start)
				}
				if strings.Contains(body(), want) {
					break
				}
				if time.Since(start) > time.Minute {
					b.Fatalf("edit %d: the pull request does not say %q after a minute; operator output:\n%s", i, want, op.output())
				}
				time.Sleep(5 * time.Millisecond)
			}
			if push == 0 {
				push = time.Since(start)
			}
			updated = append(updated, time.Since(start))
			pushed = append(pushed, push)
			time.Sleep(300 * time.Millisecond)
		}
		op.stop(b)
		pushP50, _ := percentiles(pushed)
		prP50, _ := percentiles(updated)
		b.ReportMetric(ms(pushP50), "push-p50-ms")
		b.ReportMetric(ms(prP50), "pr-updated-p50-ms")
		b.ReportMetric(float64(prP50)/float64(pushP50), "pr/push")
	}
}
