package operator

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
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

// TestRun_webhookTLSOnly: the webhook endpoint speaks TLS only. Plain HTTP is refused (400),
// a client that does not trust the serving certificate fails the handshake, and over TLS an
// admission review is answered.
func TestRun_webhookTLSOnly(t *testing.T) {
	ns := "webhook-tls"
	kubeconfig := namespaceAndKubeconfig(t, ns)
	p := startBinary(t, kubeconfig, nil, "--namespace", ns)
	review := `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"1","operation":"CREATE",` +
		`"kind":{"group":"meridio.nordix.org","version":"v1alpha1","kind":"Trench"},"resource":{"group":"meridio.nordix.org","version":"v1alpha1","resource":"trenches"},` +
		`"object":{"apiVersion":"meridio.nordix.org/v1alpha1","kind":"Trench","metadata":{"name":"t","namespace":"webhook-tls"},"spec":{"ip-family":"dualstack"}}}}`
	post := func(cl *http.Client, scheme string) (*http.Response, error) {
		return cl.Post(scheme+"://"+p.webhookAddr+"/validate-meridio-nordix-org-v1alpha1-trench", "application/json", strings.NewReader(review))
	}

	resp, err := post(&http.Client{Timeout: 10 * time.Second}, "http")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "plain HTTP is refused")

	_, err = post(&http.Client{Timeout: 10 * time.Second}, "https")
	require.Error(t, err, "a client that does not trust the serving certificate")
	assert.Contains(t, err.Error(), "certificate")

	ca, err := os.ReadFile(filepath.Join(env.WebhookCertDir, "tls.crt"))
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(ca))
	resp, err = post(&http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}}}, "https")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), `"allowed":true`)
	p.stop(t)
}
