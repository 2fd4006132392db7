package operator

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/internal/testutil"
)

// giteaPR is what the tests read of a Gitea pull request.
type giteaPR struct {
	Number  int64  `json:"number"`
	Title   string `json:"title"`
	Body    string `json:"body"`
	State   string `json:"state"`
	HTMLURL string `json:"html_url"`
	Head    struct {
		Ref string `json:"ref"`
		SHA string `json:"sha"`
	} `json:"head"`
}

// commitStatuses reads the statuses Gitea holds for a commit, by context.
func commitStatuses(t *testing.T, g *testutil.Gitea, repo, sha string) map[string]string {
	var combined struct {
		Statuses []struct{ Context, Status, Description string } `json:"statuses"`
	}
	g.API(t, "GET", "repos/operator/"+repo+"/commits/"+sha+"/status", nil, &combined)
	out := map[string]string{}
	for _, s := range combined.Statuses {
		out[s.Context] = s.Status + ": " + s.Description
	}
	return out
}

// TestRun_gitPullRequest runs `meridio-operator run --sink=git --git-push-branch
// --git-pull-request=gitea` against a real Gitea: the pull request is opened once, with the
// trench and its resources in its body, and updated (never a second) by the next change; the
// Trench shows it (condition PullRequest, status.pullRequest); each trench's commit status is
// on the pushed commit; once the pull request is merged, the Trench says so and the next change
// opens a new one.
func TestRun_gitPullRequest(t *testing.T) {
	ctx := context.Background()
	c := env.Client
	g := testutil.StartGitea(t, "operator@example.com")
	g.CreateRepo(t, "fleet")
	ns := "gitpr"
	require.NoError(t, c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	require.NoError(t, c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "gitea"},
		Data: map[string][]byte{"username": []byte(g.User), "password": []byte(g.Token)}}))
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	require.NoError(t, os.WriteFile(kubeconfig, env.KubeConfig, 0o600))
	p := startBinary(t, kubeconfig, []string{"POD_NAMESPACE=" + ns}, "--namespace", ns, "--sink=git",
		"--git-url", g.URL+"operator/fleet.git", "--git-secret", "gitea", "--git-path", "clusters/prod",
		"--git-push-branch", "meridio-review", "--git-pull-request", "gitea", "--git-poll-interval", "500ms",
		"--git-clone-dir", filepath.Join(dir, "clone"), "--git-commit-delay", "50ms")
	for _, d := range testutil.TrenchSet(ns, "t") {
		require.NoError(t, c.Create(ctx, testutil.MustDecode(t, d)))
	}
	openPRs := func(col assert.TestingT) []giteaPR {
		var prs []giteaPR
		g.API(t, "GET", "repos/operator/fleet/pulls?state=open", nil, &prs)
		return prs
	}
	var first giteaPR
	require.EventuallyWithT(t, func(col *assert.CollectT) {
		prs := openPRs(col)
		require.Len(col, prs, 1)
		first = prs[0]
		// The whole render (on a loaded machine the Trench alone can be pushed first).
		require.Contains(col, first.Body, "| Flow/f-t | added | 1 |")
		tr := &meridiov1.Trench{}
		require.NoError(col, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "t"}, tr))
		cond := apimeta.FindStatusCondition(tr.Status.Conditions, meridiov1.PullRequestCondition)
		require.NotNil(col, cond)
		assert.Equal(col, meridiov1.PullRequestOpenReason, cond.Reason, cond.Message)
		assert.Equal(col, &meridiov1.PullRequestStatus{URL: first.HTMLURL, Number: first.Number, State: "open"}, tr.Status.PullRequest)
		assert.Equal(col, "meridio-review@sha1:"+first.Head.SHA, tr.Status.Revision)
		assert.Equal(col, "pending: committed; waiting for the cluster to apply it", commitStatuses(t, g, "fleet", first.Head.SHA)["meridio/"+ns+"/t"])
	}, 60*time.Second, 200*time.Millisecond, "pull request opened; logs:\n%s", p.logs)
	assert.Equal(t, "meridio-review", first.Head.Ref)
	assert.Equal(t, "meridio: add t", first.Title)
	assert.Contains(t, first.Body, "### "+ns+"/t (add)")
	assert.Contains(t, first.Body, "| Flow/f-t | added | 1 |")

	setFlowPorts(t, ns, "f-t", "8080")
	require.EventuallyWithT(t, func(col *assert.CollectT) {
		prs := openPRs(col)
		require.Len(col, prs, 1, "never a second pull request")
		assert.Equal(col, first.Number, prs[0].Number)
		assert.NotEqual(col, first.Head.SHA, prs[0].Head.SHA)
		assert.Contains(col, prs[0].Body, "| Flow/f-t | added | 2 |", "the body follows the push branch against main")
		assert.Contains(col, commitStatuses(t, g, "fleet", prs[0].Head.SHA), "meridio/"+ns+"/t")
	}, 60*time.Second, 200*time.Millisecond, "pull request updated; logs:\n%s", p.logs)

	// Someone merges it: the Trench says so; the next change opens a new pull request.
	// Gitea refuses a merge ("Please try again later") until it has checked the pull request.
	require.Eventually(t, func() bool {
		status, _ := g.Call(t, "POST", fmt.Sprintf("repos/operator/fleet/pulls/%d/merge", first.Number), map[string]any{"Do": "merge"}, false)
		return status < 300
	}, 30*time.Second, 200*time.Millisecond, "merged")
	require.EventuallyWithT(t, func(col *assert.CollectT) {
		tr := &meridiov1.Trench{}
		require.NoError(col, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "t"}, tr))
		require.NotNil(col, tr.Status.PullRequest)
		assert.Equal(col, "merged", tr.Status.PullRequest.State)
		cond := apimeta.FindStatusCondition(tr.Status.Conditions, meridiov1.PullRequestCondition)
		require.NotNil(col, cond)
		assert.Equal(col, meridiov1.PullRequestMergedReason, cond.Reason)
	}, 60*time.Second, 200*time.Millisecond, "merge seen; logs:\n%s", p.logs)
	setFlowPorts(t, ns, "f-t", "9090")
	require.EventuallyWithT(t, func(col *assert.CollectT) {
		prs := openPRs(col)
		require.Len(col, prs, 1)
		assert.NotEqual(col, first.Number, prs[0].Number, "a new pull request after the merge")
		assert.True(col, strings.HasPrefix(prs[0].Title, "meridio: update t"), prs[0].Title)
	}, 60*time.Second, 200*time.Millisecond, "new pull request; logs:\n%s", p.logs)
	p.stop(t)
	assert.NotContains(t, p.logs.String(), g.Token, "the token is never logged")
}

// TestRun_gitSignedOnProtectedBranch: a Gitea branch protected with "require signed commits"
// refuses the operator's unsigned push (GitPushFailed, with Gitea's words) and accepts its
// signed commits once --git-signing-secret holds the key registered to the user; Gitea reports
// the signature verified; the commit status is posted without a pull request.
func TestRun_gitSignedOnProtectedBranch(t *testing.T) {
	ctx := context.Background()
	c := env.Client
	g := testutil.StartGitea(t, "operator@example.com")
	g.CreateRepo(t, "signed")
	g.API(t, "POST", "repos/operator/signed/branch_protections", map[string]any{"rule_name": "main", "require_signed_commits": true, "enable_push": true}, nil)
	key := testutil.OpenPGPKey(t, "operator@example.com", "")
	g.AddGPGKey(t, key)

	ns := "gitprotected"
	require.NoError(t, c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	require.NoError(t, c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "gitea"},
		Data: map[string][]byte{"username": []byte(g.User), "password": []byte(g.Token)}}))
	signing := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "signing"}, Data: map[string][]byte{"unused": []byte("x")}}
	require.NoError(t, c.Create(ctx, signing))
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	require.NoError(t, os.WriteFile(kubeconfig, env.KubeConfig, 0o600))
	for _, d := range testutil.TrenchSet(ns, "t") {
		require.NoError(t, c.Create(ctx, testutil.MustDecode(t, d)))
	}
	reason := func(col *assert.CollectT) *metav1.Condition {
		tr := &meridiov1.Trench{}
		require.NoError(col, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "t"}, tr))
		r := apimeta.FindStatusCondition(tr.Status.Conditions, meta.ReadyCondition)
		require.NotNil(col, r)
		return r
	}

	// Unsigned: Gitea refuses the push.
	p := startBinary(t, kubeconfig, []string{"POD_NAMESPACE=" + ns}, "--namespace", ns, "--sink=git",
		"--git-url", g.URL+"operator/signed.git", "--git-secret", "gitea", "--git-author-email", "operator@example.com",
		"--git-clone-dir", filepath.Join(dir, "clone"), "--git-commit-delay", "50ms")
	require.EventuallyWithT(t, func(col *assert.CollectT) {
		r := reason(col)
		assert.Equal(col, "GitPushFailed", r.Reason, r.Message)
		// Gitea 1.26's words for an unverified commit (it logs "Unverified commit" itself).
		assert.Contains(col, r.Message, "pre-receive hook declined", r.Message)
	}, 60*time.Second, 200*time.Millisecond, "unsigned push refused; logs:\n%s", p.logs)
	p.stop(t)

	signing.Data = key.Data
	require.NoError(t, c.Update(ctx, signing))
	p = startBinary(t, kubeconfig, []string{"POD_NAMESPACE=" + ns}, "--namespace", ns, "--sink=git",
		"--git-url", g.URL+"operator/signed.git", "--git-secret", "gitea", "--git-author-email", "operator@example.com",
		"--git-signing-secret", "signing", "--git-commit-status", "gitea",
		"--git-clone-dir", filepath.Join(dir, "clone"), "--git-commit-delay", "50ms")
	var sha string
	require.EventuallyWithT(t, func(col *assert.CollectT) {
		tr := &meridiov1.Trench{}
		require.NoError(col, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "t"}, tr))
		_, sha, _ = strings.Cut(tr.Status.Revision, "main@sha1:")
		assert.NotEmpty(col, sha, "committed")
	}, 60*time.Second, 200*time.Millisecond, "signed push accepted; logs:\n%s", p.logs)
	var commit struct {
		Commit struct {
			Verification struct {
				Verified bool                   `json:"verified"`
				Reason   string                 `json:"reason"`
				Signer   struct{ Email string } `json:"signer"`
			} `json:"verification"`
		} `json:"commit"`
	}
	g.API(t, "GET", "repos/operator/signed/git/commits/"+sha, nil, &commit)
	assert.True(t, commit.Commit.Verification.Verified, "Gitea verifies the signature: %s", commit.Commit.Verification.Reason)
	assert.Equal(t, "operator@example.com", commit.Commit.Verification.Signer.Email)
	require.EventuallyWithT(t, func(col *assert.CollectT) {
		tr := &meridiov1.Trench{}
		require.NoError(col, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "t"}, tr))
		_, now, _ := strings.Cut(tr.Status.Revision, "main@sha1:")
		assert.Equal(col, "pending: committed; waiting for the cluster to apply it", commitStatuses(t, g, "signed", now)["meridio/"+ns+"/t"])
	}, 30*time.Second, 200*time.Millisecond, "status posted without a pull request; logs:\n%s", p.logs)
	p.stop(t)
}
