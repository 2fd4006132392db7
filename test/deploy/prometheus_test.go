package deploy

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meridio-operator/meridio-operator/internal/testutil"
)

// Test_prometheusConfig: config/prometheus builds, and the API server takes its ServiceMonitor
// in a server-side dry run with the Prometheus Operator's ServiceMonitor CRD installed (made
// by controller-gen from the Prometheus Operator's API module, as that project makes it). The
// monitor scrapes the port the secure metrics are served on.
func Test_prometheusConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("runs controller-gen")
	}
	ctx := context.Background()
	installCertManagerStubs(t)
	out := t.TempDir()
	gen := exec.Command("go", "tool", "controller-gen", "crd:maxDescLen=0",
		"paths=github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1",
		"output:crd:artifacts:config="+out)
	gen.Dir = testutil.RepoRoot()
	msg, err := gen.CombinedOutput()
	require.NoError(t, err, "%s", msg)
	installCRD(t, filepath.Join(out, "monitoring.coreos.com_servicemonitors.yaml"))

	objs := build(t, "prometheus")
	var monitor *monitoringv1.ServiceMonitor
	var metricsPort string
	for _, o := range objs {
		if o.GetKind() == "Namespace" {
			require.NoError(t, client.IgnoreAlreadyExists(env.Client.Create(ctx, o.DeepCopy())))
		}
	}
	for _, o := range objs {
		err := env.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(o.DeepCopy()), client.DryRunAll, client.ForceOwnership, client.FieldOwner("test"))
		require.NoError(t, err, "%s %s", o.GetKind(), o.GetName())
		switch o.GetKind() {
		case "ServiceMonitor":
			monitor = &monitoringv1.ServiceMonitor{}
			require.NoError(t, runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, monitor))
		case "Service":
			if o.GetLabels()["app.kubernetes.io/component"] == "metrics" {
				ports, _, _ := unstructured.NestedSlice(o.Object, "spec", "ports")
				metricsPort = ports[0].(map[string]any)["name"].(string)
			}
		}
	}
	require.NotNil(t, monitor, "a ServiceMonitor")
	require.Len(t, monitor.Spec.Endpoints, 1)
	assert.Equal(t, metricsPort, monitor.Spec.Endpoints[0].Port, "it scrapes the metrics Service's port")
	assert.Equal(t, "https", string(*monitor.Spec.Endpoints[0].Scheme))
}
