// Package spire runs the operator binary with its webhook certificate from a SPIFFE Workload
// API (as a SPIRE agent serves it) on a real API server whose only webhooks are the operator's:
// the API server trusts the webhooks through the caBundle the operator keeps, and a rotation of
// the SVID and of its trust domain's authority is followed without a restart.
package spire

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meridio-operator/meridio-operator/config"
	"github.com/meridio-operator/meridio-operator/internal/localapi"
	"github.com/meridio-operator/meridio-operator/internal/spiffecert"
	"github.com/meridio-operator/meridio-operator/internal/testutil"
)

var env *localapi.Env

func TestMain(m *testing.M) {
	os.Exit(testutil.Run(m, func(e ...*localapi.Env) error { env = e[0]; return nil }, localapi.Options{NoWebhooks: true}))
}

const (
	ns      = "spire"
	timeout = 30 * time.Second
	tick    = 100 * time.Millisecond
)

// The names of the webhook configurations as config/ deploys them (the flag's default).
var configurations = map[string]string{
	"meridio-validating-webhook-configuration": "ValidatingWebhookConfiguration",
	"meridio-mutating-webhook-configuration":   "MutatingWebhookConfiguration",
}

func TestWebhookCertificateFromSPIFFE(t *testing.T) {
	ctx := context.Background()
	c := env.Client
	require.NoError(t, c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))

	api := testutil.StartWorkloadAPI(t)
	ca1 := testutil.NewSPIFFECA(t, "example.org")
	// SPIRE gives the pod an identity of its own too, first, without the webhook's names: the
	// operator serves the SVID hinted for the webhook.
	podIdentity := ca1.Issue(t, "/ns/spire/sa/meridio-operator/pod", nil)
	svid1 := ca1.Issue(t, "/ns/spire/sa/meridio-operator", []string{"meridio-operator-webhook-service.spire.svc"}, net.IPv4(127, 0, 0, 1))
	svid1.Hint = spiffecert.Hint
	api.Serve(podIdentity, svid1)

	port := testutil.FreePort(t)
	installWebhooks(t, port)
	exited := start(t, "--webhook-cert-source=spiffe", "--spiffe-endpoint-socket="+api.Addr, fmt.Sprintf("--webhook-port=%d", port))

	// The API server trusts the SVID's authority through the caBundle the operator wrote, and
	// calls the webhooks: a Flow with a bad subnet is refused by the webhook, not for TLS.
	waitForCABundle(t, ca1)
	assert.Equal(t, svid1.Cert.SerialNumber, servedCert(t, port).SerialNumber)
	create(t, `{apiVersion: meridio.nordix.org/v1alpha1, kind: Trench, metadata: {name: t1}, spec: {ip-family: dualstack}}`)
	assertRefusedByWebhook(t, "f1")

	// SPIRE rotates: a new authority for the trust domain and a new SVID signed by it. The
	// operator serves the new SVID and rewrites the caBundle, without a restart.
	ca2 := testutil.NewSPIFFECA(t, "example.org")
	svid2 := ca2.Issue(t, "/ns/spire/sa/meridio-operator", []string{"meridio-operator-webhook-service.spire.svc"}, net.IPv4(127, 0, 0, 1))
	svid2.Hint = spiffecert.Hint
	api.Serve(svid2)
	waitForCABundle(t, ca2)
	require.EventuallyWithT(t, func(col *assert.CollectT) {
		assert.Equal(col, svid2.Cert.SerialNumber, servedCert(col, port).SerialNumber)
	}, timeout, tick, "the rotated SVID is served")
	assertRefusedByWebhook(t, "f2")
	select {
	case err := <-exited:
		t.Fatalf("the operator exited (%v): a rotation must not need a restart", err)
	default:
	}

	// Somebody resets a caBundle (kubectl apply of the configurations): the operator repairs it
	// at the next source update or resync; here, the next rotation.
	v := &admissionv1.ValidatingWebhookConfiguration{}
	require.NoError(t, c.Get(ctx, client.ObjectKey{Name: "meridio-validating-webhook-configuration"}, v))
	for i := range v.Webhooks {
		v.Webhooks[i].ClientConfig.CABundle = nil
	}
	require.NoError(t, c.Update(ctx, v))
	api.Serve(ca2.Issue(t, "/ns/spire/sa/meridio-operator", nil, net.IPv4(127, 0, 0, 1)))
	waitForCABundle(t, ca2)
	assertRefusedByWebhook(t, "f3")
}

// TestSPIFFEFlags: the SPIFFE flags without --webhook-cert-source=spiffe, and an unknown source,
// are refused before anything starts.
func TestSPIFFEFlags(t *testing.T) {
	bin := testutil.OperatorBinary(t)
	for args, want := range map[string]string{
		"--webhook-cert-source=vault":                  `run: --webhook-cert-source "vault": want dir or spiffe`,
		"--spiffe-endpoint-socket=unix:///x":           "run: --spiffe-endpoint-socket needs --webhook-cert-source=spiffe",
		"--webhook-configurations=a --webhook-port=1 ": "run: --webhook-configurations needs --webhook-cert-source=spiffe",
	} {
		out, err := exec.Command(bin, append([]string{"run"}, strings.Fields(args)...)...).CombinedOutput()
		require.Error(t, err, args)
		assert.Equal(t, 2, err.(*exec.ExitError).ExitCode(), args)
		assert.Contains(t, string(out), want, args)
	}
}

// TestSPIFFEWithoutSocket: --webhook-cert-source=spiffe with no Workload API address stops at
// once with one plain line, before anything is served.
func TestSPIFFEWithoutSocket(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, os.WriteFile(kubeconfig, env.KubeConfig, 0o600))
	cmd := exec.Command(testutil.OperatorBinary(t), "run", "--namespace", ns, "--metrics-bind-address", "0", "--health-probe-bind-address", "0", "--webhook-cert-source=spiffe")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "SPIFFE_ENDPOINT_SOCKET=")
	out, err := cmd.CombinedOutput()
	require.Error(t, err)
	assert.Equal(t, 1, err.(*exec.ExitError).ExitCode())
	assert.Equal(t, "run: --webhook-cert-source=spiffe: no Workload API address: set --spiffe-endpoint-socket or SPIFFE_ENDPOINT_SOCKET\n", string(out))
}

// installWebhooks creates config/'s webhook configurations, calling the operator on
// 127.0.0.1:port by URL (no Service here) and with no caBundle: the operator writes it.
func installWebhooks(t *testing.T, port int) {
	t.Helper()
	data, err := config.Manifests.ReadFile("webhook/manifests.yaml")
	require.NoError(t, err)
	objs, err := localapi.DecodeYAML(data)
	require.NoError(t, err)
	for _, u := range objs {
		// config/'s names get the prefix meridio-; the webhooks call 127.0.0.1 by URL.
		u.SetName("meridio-" + u.GetName())
		webhooks, _, err := unstructured.NestedSlice(u.Object, "webhooks")
		require.NoError(t, err)
		for _, w := range webhooks {
			cc := w.(map[string]any)["clientConfig"].(map[string]any)
			cc["url"] = fmt.Sprintf("https://127.0.0.1:%d%s", port, cc["service"].(map[string]any)["path"])
			delete(cc, "service")
		}
		require.NoError(t, unstructured.SetNestedSlice(u.Object, webhooks, "webhooks"))
		require.NoError(t, env.Client.Create(context.Background(), u))
	}
}

// waitForCABundle waits until every webhook of both configurations trusts exactly ca.
func waitForCABundle(t *testing.T, ca *testutil.SPIFFECA) {
	t.Helper()
	want := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
	require.EventuallyWithT(t, func(col *assert.CollectT) {
		for name, kind := range configurations {
			u := &unstructured.Unstructured{}
			u.SetGroupVersionKind(admissionv1.SchemeGroupVersion.WithKind(kind))
			require.NoError(col, env.Client.Get(context.Background(), client.ObjectKey{Name: name}, u))
			webhooks, _, _ := unstructured.NestedSlice(u.Object, "webhooks")
			require.NotEmpty(col, webhooks, name)
			for _, w := range webhooks {
				got, _, _ := unstructured.NestedString(w.(map[string]any), "clientConfig", "caBundle")
				assert.Equal(col, base64.StdEncoding.EncodeToString(want), got, "%s: caBundle is the trust bundle", name)
			}
		}
	}, timeout, tick)
}

// servedCert is the leaf certificate the webhook server presents.
func servedCert(t require.TestingT, port int) *x509.Certificate {
	conn, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port), &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // reads the certificate only
	require.NoError(t, err)
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

// create creates a Meridio resource in the test's namespace.
func create(t *testing.T, doc string) {
	t.Helper()
	o := testutil.MustDecode(t, doc)
	o.SetNamespace(ns)
	require.NoError(t, env.Client.Create(context.Background(), o))
}

// assertRefusedByWebhook creates a Flow whose source subnet only the validating webhook checks,
// and expects the webhook's refusal (a TLS failure would read "failed calling webhook").
func assertRefusedByWebhook(t *testing.T, name string) {
	t.Helper()
	o := testutil.MustDecode(t, fmt.Sprintf(`{apiVersion: meridio.nordix.org/v1alpha1, kind: Flow, metadata: {name: %s, labels: {trench: t1}}, spec: {vips: [v], protocols: [tcp], priority: 1, source-subnets: ["20.0.0.1"]}}`, name))
	o.SetNamespace(ns)
	err := env.Client.Create(context.Background(), o)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "denied the request")
	assert.Contains(t, err.Error(), "spec.source-subnets[0]")
	assert.NotContains(t, err.Error(), "failed calling webhook")
}

// start runs `meridio-operator run` in the test namespace and waits until it is ready; the
// channel receives the result of the process if it exits.
func start(t *testing.T, args ...string) <-chan error {
	t.Helper()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, os.WriteFile(kubeconfig, env.KubeConfig, 0o600))
	probe := testutil.FreePort(t)
	cmd := exec.Command(testutil.OperatorBinary(t), append([]string{"run", "--namespace", ns, "--metrics-bind-address", "0",
		fmt.Sprintf("--health-probe-bind-address=127.0.0.1:%d", probe)}, args...)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	logs := &testutil.LockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("operator logs:\n%s", logs)
		}
	})
	require.EventuallyWithT(t, func(col *assert.CollectT) {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", probe))
		require.NoError(col, err)
		resp.Body.Close()
		assert.Equal(col, http.StatusOK, resp.StatusCode)
	}, timeout, tick, "ready; logs:\n%s", logs)
	return exited
}
