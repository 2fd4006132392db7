package gitsink

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/types"

	"github.com/meridio-operator/meridio-operator/delivery"
	"github.com/meridio-operator/meridio-operator/forge"
	"github.com/meridio-operator/meridio-operator/internal/testutil"
)

// Test_Sink_review: on a real Gitea, a token the forge refuses shows on the trench's delivery
// as a failed review with Gitea's words (PullRequestFailed), while the commit is pushed all the
// same; with the token fixed the next push opens the pull request; an outcome is posted once,
// and again only when it changes.
func Test_Sink_review(t *testing.T) {
	g := testutil.StartGitea(t, "operator@example.com")
	url := g.CreateRepo(t, "review")
	var token atomic.Value
	token.Store("not-a-token")
	f, err := forge.New(forge.Config{Kind: forge.Gitea, RepoURL: url, Token: func(context.Context) (string, error) { return token.Load().(string), nil }})
	require.NoError(t, err)
	r := remote{url: url, creds: &Credentials{Username: g.User, Password: g.Token}}
	s := startSinkWith(t, r, "", []Option{WithPushBranch("meridio-review")}, WithForge(f, true))
	results := examples(t)
	a := trenchResult(t, results, "trench-a")
	s.deliverAll(t, a)
	var got delivery.Result
	require.EventuallyWithT(t, func(c *assertT) {
		got, _ = s.Deliver(s.ctx, a)
		require.NotNil(c, got.Review)
		require.Error(c, got.Review.Err)
		assert.Equal(c, "PullRequestFailed", delivery.ReasonOf(got.Review.Err, ""))
	}, 20*time.Second, 50*time.Millisecond)
	assert.Contains(t, got.Review.Err.Error(), "gitea: open or update the pull request meridio-review -> main of operator/review: ")
	assert.Contains(t, got.Review.Err.Error(), "invalid username, password or token")

	token.Store(g.Token)
	s.deliverAll(t, withReplicas(t, a, 3))
	require.EventuallyWithT(t, func(c *assertT) {
		got, _ = s.Deliver(s.ctx, withReplicas(t, a, 3))
		require.NotNil(c, got.Review)
		require.NoError(c, got.Review.Err)
		assert.Equal(c, forge.StateOpen, got.Review.State)
	}, 20*time.Second, 50*time.Millisecond)
	other, _ := s.Deliver(s.ctx, trenchResult(t, results, "trench-m"))
	assert.Nil(t, other.Review, "a trench the pull request does not change has none")

	trench := types.NamespacedName{Namespace: "default", Name: "trench-a"}
	o := delivery.Outcome{Revision: got.Revision, State: "pending", Description: "committed; waiting for the cluster to apply it"}
	for i := 0; i < 3; i++ {
		s.ReportOutcome(s.ctx, trench, o)
	}
	_, sha, _ := strings.Cut(got.Revision, "@sha1:")
	statuses := func() []map[string]any {
		var out []map[string]any
		g.API(t, "GET", "repos/operator/review/commits/"+sha+"/statuses", nil, &out)
		return out
	}
	require.Eventually(t, func() bool { return len(statuses()) == 1 }, 10*time.Second, 50*time.Millisecond)
	o.State, o.Description = "failure", "Stalled: an attractor without a conduit"
	s.ReportOutcome(s.ctx, trench, o)
	require.Eventually(t, func() bool { return len(statuses()) == 2 }, 10*time.Second, 50*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	assert.Len(t, statuses(), 2, "an outcome already posted is not posted again")
	assert.Equal(t, "meridio/default/trench-a", statuses()[0]["context"])
}
