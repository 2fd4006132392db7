package operator

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meridio-operator/meridio-operator/internal/localapi"
	"github.com/meridio-operator/meridio-operator/internal/testutil"
)

// TestRun_metricsSecure: with --metrics-secure, as config/metrics-auth runs it, the metrics endpoint
// speaks TLS only, refuses a client without a token (401) and one whose account may not get
// /metrics (403), and serves one that has that overlay's meridio-metrics-reader ClusterRole.
func TestRun_metricsSecure(t *testing.T) {
	ctx := context.Background()
	c := env.Client
	ns := "metrics"
	kubeconfig := namespaceAndKubeconfig(t, ns)
	addr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	p := startBinary(t, kubeconfig, nil, "--namespace", ns, "--metrics-bind-address", addr, "--metrics-secure")

	get := func(scheme, token string) (int, string) {
		req, err := http.NewRequest(http.MethodGet, scheme+"://"+addr+"/metrics", nil)
		require.NoError(t, err)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		cl := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
		resp, err := cl.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	require.Eventually(t, func() bool {
		conn, err := net.Dial("tcp", addr)
		if err == nil {
			conn.Close()
		}
		return err == nil
	}, 30*time.Second, 50*time.Millisecond, "the metrics endpoint listens")
	code, _ := get("http", "")
	assert.Equal(t, http.StatusBadRequest, code, "plain HTTP is refused")
	code, _ = get("https", "")
	assert.Equal(t, http.StatusUnauthorized, code, "no token")

	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "scraper"}}
	require.NoError(t, c.Create(ctx, sa))
	tr := &authenticationv1.TokenRequest{}
	require.NoError(t, c.SubResource("token").Create(ctx, sa, tr))
	token := tr.Status.Token
	require.NotEmpty(t, token)
	code, _ = get("https", token)
	assert.Equal(t, http.StatusForbidden, code, "an account without metrics-reader")

	data, err := os.ReadFile(filepath.Join(testutil.RepoRoot(), "config", "metrics-auth", "metrics_auth.yaml"))
	require.NoError(t, err)
	objs, err := localapi.DecodeYAML(data)
	require.NoError(t, err)
	for _, o := range objs {
		if o.GetKind() == "ClusterRole" && o.GetName() == "meridio-metrics-reader" {
			require.NoError(t, c.Create(ctx, o))
		}
	}
	require.NoError(t, c.Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "scraper-metrics"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "meridio-metrics-reader"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: ns, Name: "scraper"}},
	}))
	require.EventuallyWithT(t, func(col *assert.CollectT) {
		code, body := get("https", token)
		assert.Equal(col, http.StatusOK, code)
		assert.Contains(col, body, "controller_runtime_reconcile_total")
	}, 90*time.Second, 500*time.Millisecond, "the operator caches a denial for 30 s; logs:\n%s", p.logs)
	p.stop(t)
}
