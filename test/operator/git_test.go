package operator

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/gittestserver"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/internal/testutil"
)

const gitPassword = "s3cret-pa55word-xyz"

// TestRun_gitMode runs `meridio-operator run --sink=git` against a Git server with basic
// auth, the credentials in a Secret (and, wrongly, in the URL too): the trench is committed
// with its revision in the status, no workload is written, refused credentials show as
// GitAuthFailed when the server revokes them while the operator runs, and the operator recovers
// once the Secret holds the rotated password; no password is ever printed.
func TestRun_gitMode(t *testing.T) {
	ctx := context.Background()
	c := env.Client
	srv, err := gittestserver.NewTempGitServer()
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(srv.Root()) })
	srv.Auth("operator", gitPassword)
	require.NoError(t, srv.StartHTTP())
	t.Cleanup(srv.StopHTTP)
	bare := filepath.Join(srv.Root(), "fleet.git")
	testutil.Git(t, "", "init", "--quiet", "--bare", "-b", "main", bare)

	ns := "gitmode"
	require.NoError(t, c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "fleet-creds"},
		Data: map[string][]byte{"username": []byte("operator"), "password": []byte(gitPassword)}}
	require.NoError(t, c.Create(ctx, secret))

	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	require.NoError(t, os.WriteFile(kubeconfig, env.KubeConfig, 0o600))
	url := strings.Replace(srv.HTTPAddress(), "http://", "http://operator:"+gitPassword+"@", 1) + "/fleet.git"
	p := startBinary(t, kubeconfig, nil, "--namespace", ns, "--sink=git", "--git-url", url, "--git-path", "clusters/prod",
		"--git-secret", "fleet-creds", "--git-clone-dir", filepath.Join(dir, "clone"), "--git-commit-delay", "50ms", "--log-level", "debug")

	for _, d := range testutil.TrenchSet(ns, "t") {
		require.NoError(t, c.Create(ctx, testutil.MustDecode(t, d)))
	}
	require.EventuallyWithT(t, func(col *assert.CollectT) {
		tr := &meridiov1.Trench{}
		require.NoError(col, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "t"}, tr))
		assert.Equal(col, "main@sha1:"+testutil.GitOutput(bare, "rev-parse", "main"), tr.Status.Revision)
	}, 30*time.Second, 100*time.Millisecond, "committed; logs:\n%s", p.logs)
	assert.Contains(t, testutil.Git(t, bare, "ls-tree", "-r", "--name-only", "main"), "clusters/prod/"+ns+"/t/kustomization.yaml")
	var deps appsv1.DeploymentList
	require.NoError(t, c.List(ctx, &deps, client.InNamespace(ns)))
	assert.Empty(t, deps.Items, "git mode writes no workload")

	// The server revokes the password while the operator runs (the test server reads its
	// credentials at each request), then the Secret gets the rotated one.
	rotated := "rotated-" + gitPassword
	srv.Auth("operator", rotated)
	setFlowPorts(t, ns, "f-t", "8080")
	require.EventuallyWithT(t, func(col *assert.CollectT) {
		tr := &meridiov1.Trench{}
		require.NoError(col, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "t"}, tr))
		r := apimeta.FindStatusCondition(tr.Status.Conditions, meta.ReadyCondition)
		require.NotNil(col, r)
		assert.Equal(col, "GitAuthFailed", r.Reason, r.Message)
		assert.NotContains(col, r.Message, gitPassword)
	}, 30*time.Second, 100*time.Millisecond, "auth failure shown; logs:\n%s", p.logs)
	secret.Data["password"] = []byte(rotated)
	require.NoError(t, c.Update(ctx, secret))
	require.EventuallyWithT(t, func(col *assert.CollectT) {
		assert.Contains(col, testutil.GitOutput(bare, "show", "main:clusters/prod/"+ns+"/t/configmap-meridio-configuration-t.yaml"), "8080")
	}, 60*time.Second, 200*time.Millisecond, "recovered; logs:\n%s", p.logs)
	var events eventsv1.EventList
	require.NoError(t, c.List(ctx, &events, client.InNamespace(ns)))
	p.stop(t)

	all := p.logs.String()
	for _, e := range events.Items {
		all += e.Reason + " " + e.Note + "\n"
	}
	assert.NotContains(t, all, gitPassword, "the password is in no log line or event")
	assert.Contains(t, all, "GitAuthFailed")
}

// TestRun_help lists every git flag with its help.
func TestRun_help(t *testing.T) {
	out, _ := exec.Command(testutil.OperatorBinary(t), "run", "--help").CombinedOutput()
	for _, f := range []string{"--sink", "--git-url", "--git-branch", "--git-path", "--git-push-branch", "--git-secret",
		"--git-author-name", "--git-author-email", "--git-commit-delay", "--git-clone-dir", "--git-signing-secret"} {
		assert.Contains(t, string(out), "  -"+strings.TrimPrefix(f, "--"), f)
	}
}

// TestRun_gitSigning runs `meridio-operator run --sink=git --git-signing-secret`: a Secret whose
// key cannot sign shows as GitSigningFailed naming the Secret (never the key) and nothing is
// pushed; once the Secret holds a good key (rotated without a restart) the commit is pushed,
// signed, as the real `git verify-commit` checks.
func TestRun_gitSigning(t *testing.T) {
	ctx := context.Background()
	c := env.Client
	root := t.TempDir()
	bare := filepath.Join(root, "fleet.git")
	testutil.Git(t, "", "init", "--quiet", "--bare", "-b", "main", bare)
	ns := "gitsign"
	require.NoError(t, c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))
	encrypted := testutil.OpenPGPKey(t, "meridio-operator@localhost", "the-right-passphrase")
	wrong := map[string][]byte{"git.asc": encrypted.Data["git.asc"], "passphrase": []byte("not-the-passphrase")}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "signing-key"}, Data: wrong}
	require.NoError(t, c.Create(ctx, secret))

	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	require.NoError(t, os.WriteFile(kubeconfig, env.KubeConfig, 0o600))
	p := startBinary(t, kubeconfig, []string{"POD_NAMESPACE=" + ns}, "--namespace", ns, "--sink=git", "--git-url", "file://"+bare,
		"--git-signing-secret", "signing-key", "--git-clone-dir", filepath.Join(dir, "clone"), "--git-commit-delay", "50ms")
	for _, d := range testutil.TrenchSet(ns, "t") {
		require.NoError(t, c.Create(ctx, testutil.MustDecode(t, d)))
	}
	require.EventuallyWithT(t, func(col *assert.CollectT) {
		tr := &meridiov1.Trench{}
		require.NoError(col, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "t"}, tr))
		r := apimeta.FindStatusCondition(tr.Status.Conditions, meta.ReadyCondition)
		require.NotNil(col, r)
		assert.Equal(col, "GitSigningFailed", r.Reason, r.Message)
		assert.Contains(col, r.Message, "signing secret "+ns+"/signing-key: git.asc: cannot decrypt it with the passphrase")
	}, 30*time.Second, 100*time.Millisecond, "signing failure shown; logs:\n%s", p.logs)
	assert.Empty(t, testutil.GitOutput(bare, "branch", "--list", "main"), "nothing is pushed unsigned")

	secret.Data = encrypted.Data
	require.NoError(t, c.Update(ctx, secret))
	var commit string
	require.EventuallyWithT(t, func(col *assert.CollectT) {
		tr := &meridiov1.Trench{}
		require.NoError(col, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "t"}, tr))
		commit = testutil.GitOutput(bare, "rev-parse", "main")
		assert.Equal(col, "main@sha1:"+commit, tr.Status.Revision)
	}, 60*time.Second, 100*time.Millisecond, "committed once the key is good; logs:\n%s", p.logs)
	out, ok := testutil.VerifyCommit(t, bare, commit, encrypted)
	assert.True(t, ok, "the pushed commit is signed: %s", out)
	p.stop(t)
	logs := p.logs.String()
	assert.NotContains(t, logs, "the-right-passphrase")
	assert.NotContains(t, logs, string(encrypted.Data["git.asc"][40:80]), "no key material in the log")
}
