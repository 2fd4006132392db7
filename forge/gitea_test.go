package forge

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meridio-operator/meridio-operator/internal/testutil"
)

// TestGitea: on a real Gitea, the pull request of a head branch is opened once, updated (not
// duplicated) on the next call, read back merged or closed, and a new one is opened once it
// is closed; commit statuses appear on the commit.
func TestGitea(t *testing.T) {
	ctx := context.Background()
	g := testutil.StartGitea(t, "operator@example.com")
	repoURL := g.CreateRepo(t, "fleet")
	wt := filepath.Join(t.TempDir(), "wt")
	testutil.Git(t, "", "clone", "--quiet", g.CloneURL("fleet"), wt)
	testutil.Git(t, wt, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "--quiet", "--allow-empty", "-m", "review me")
	testutil.Git(t, wt, "push", "--quiet", "origin", "HEAD:meridio-review")
	head := testutil.Git(t, wt, "rev-parse", "HEAD")

	c, err := New(Config{RepoURL: repoURL, Kind: Gitea, Token: func(context.Context) (string, error) { return g.Token, nil }})
	require.NoError(t, err)
	ch := Change{Head: "meridio-review", Base: "main", Title: "meridio: update trench-a", Body: "first"}
	pr, err := c.EnsurePullRequest(ctx, ch)
	require.NoError(t, err)
	assert.Equal(t, StateOpen, pr.State)
	assert.Equal(t, fmt.Sprintf("%soperator/fleet/pulls/%d", g.URL, pr.Number), pr.URL)
	ch.Body = "second"
	again, err := c.EnsurePullRequest(ctx, ch)
	require.NoError(t, err)
	assert.Equal(t, pr.Number, again.Number, "the open pull request is updated, not duplicated")
	var got struct {
		Body  string `json:"body"`
		Title string `json:"title"`
	}
	g.API(t, "GET", fmt.Sprintf("repos/operator/fleet/pulls/%d", pr.Number), nil, &got)
	assert.Equal(t, "second", got.Body)
	var open []struct{ Number int64 }
	g.API(t, "GET", "repos/operator/fleet/pulls?state=open", nil, &open)
	assert.Len(t, open, 1)

	require.NoError(t, c.SetStatus(ctx, head, Status{Context: "meridio/default/trench-a", State: StatusPending, Description: "committed"}))
	require.NoError(t, c.SetStatus(ctx, head, Status{Context: "meridio/default/trench-a", State: StatusSuccess, Description: "applied and healthy"}))
	var combined struct {
		State    string `json:"state"`
		Statuses []struct {
			Context, Status, Description string
		} `json:"statuses"`
	}
	g.API(t, "GET", "repos/operator/fleet/commits/"+head+"/status", nil, &combined)
	require.Len(t, combined.Statuses, 1)
	assert.Equal(t, "success", combined.Statuses[0].Status)
	assert.Equal(t, "applied and healthy", combined.Statuses[0].Description)

	g.API(t, "PATCH", fmt.Sprintf("repos/operator/fleet/pulls/%d", pr.Number), map[string]any{"state": "closed"}, nil)
	closed, err := c.GetPullRequest(ctx, pr.Number)
	require.NoError(t, err)
	assert.Equal(t, StateClosed, closed.State)
	next, err := c.EnsurePullRequest(ctx, ch)
	require.NoError(t, err)
	assert.NotEqual(t, pr.Number, next.Number, "a closed pull request is not reused")

	// An API refusal carries the forge's words.
	bad, err := New(Config{RepoURL: g.URL + "operator/missing.git", Kind: Gitea, Token: func(context.Context) (string, error) { return g.Token, nil }})
	require.NoError(t, err)
	_, err = bad.EnsurePullRequest(ctx, ch)
	require.Error(t, err)
	t.Log(err)
}
