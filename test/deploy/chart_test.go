package deploy

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"sigs.k8s.io/yaml"

	"github.com/meridio-operator/meridio-operator/internal/deploy"
	"github.com/meridio-operator/meridio-operator/internal/testutil"
)

// chartCases are settings the chart and make deploy must agree on.
var chartCases = []struct {
	name   string
	opts   deploy.Options
	values map[string]any
}{
	{"defaults", deploy.Options{Namespace: "meridio-operator-system"}, map[string]any{}},
	{"cluster mode elsewhere", deploy.Options{Namespace: "red", Image: "registry.example.com/meridio-operator:v2"},
		map[string]any{"image": "registry.example.com/meridio-operator:v2"}},
	{"git mode without the mutating webhook", deploy.Options{Namespace: "blue", Sink: "git", NoMutatingWebhook: true, GitURL: "ssh://git@git.example.com/fleet.git", GitBranch: "prod", GitPath: "clusters/blue"},
		map[string]any{"sink": "git", "mutatingWebhook": false, "git": map[string]any{"url": "ssh://git@git.example.com/fleet.git", "branch": "prod", "path": "clusters/blue"}}},
	{"SPIRE certificates", deploy.Options{Namespace: "violet", Certificates: "spire"}, map[string]any{"certificates": "spire"}},
	{"git mode with SPIRE certificates", deploy.Options{Namespace: "indigo", Sink: "git", Certificates: "spire", NoMutatingWebhook: true},
		map[string]any{"sink": "git", "certificates": "spire", "mutatingWebhook": false}},
}

// Test_chartEqualsDeploy renders charts/meridio-operator with Helm's own engine and checks that
// it is, object for object, what make deploy applies with the same settings.
func Test_chartEqualsDeploy(t *testing.T) {
	chart, err := loader.Load(filepath.Join(testutil.RepoRoot(), deploy.ChartDir))
	require.NoError(t, err)
	for _, tc := range chartCases {
		t.Run(tc.name, func(t *testing.T) {
			want, err := deploy.Manifests(tc.opts)
			require.NoError(t, err)
			values := map[string]any{"createNamespace": true}
			for k, v := range tc.values {
				values[k] = v
			}
			vals, err := chartutil.ToRenderValues(chart, values, chartutil.ReleaseOptions{Name: "meridio", Namespace: tc.opts.Namespace}, chartutil.DefaultCapabilities)
			require.NoError(t, err)
			out, err := engine.Render(chart, vals)
			require.NoError(t, err)
			var got []string
			for _, text := range out {
				got = append(got, documents(t, text)...)
			}
			for _, crd := range chart.CRDObjects() {
				got = append(got, documents(t, string(crd.File.Data))...)
			}
			var wanted []string
			for _, o := range want {
				wanted = append(wanted, canonical(t, o.Object))
			}
			sort.Strings(got)
			sort.Strings(wanted)
			assert.Equal(t, wanted, got)
		})
	}
}

// Test_chartRefusesUnknownSettings: a sink or certificates value the chart does not know fails
// the render, naming it, instead of rendering no operator.
func Test_chartRefusesUnknownSettings(t *testing.T) {
	chart, err := loader.Load(filepath.Join(testutil.RepoRoot(), deploy.ChartDir))
	require.NoError(t, err)
	for values, want := range map[string]string{
		"sink=argo":          `sink "argo": want cluster or git`,
		"certificates=vault": `certificates "vault": want cert-manager or spire`,
	} {
		k, v, _ := strings.Cut(values, "=")
		vals, err := chartutil.ToRenderValues(chart, map[string]any{k: v}, chartutil.ReleaseOptions{Name: "meridio", Namespace: "red"}, chartutil.DefaultCapabilities)
		require.NoError(t, err)
		_, err = engine.Render(chart, vals)
		require.Error(t, err, values)
		assert.Contains(t, err.Error(), want)
	}
}

// Test_chartInstalls installs the chart with Helm on the test API server, in another namespace,
// and uninstalls it.
func Test_chartInstalls(t *testing.T) {
	c := deployEnv.Client
	installCertManagerStubsOn(t, c)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, os.WriteFile(kubeconfig, deployEnv.KubeConfig, 0o600))
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig = &kubeconfig
	ns := "green"
	flags.Namespace = &ns
	cfg := &action.Configuration{}
	require.NoError(t, cfg.Init(flags, ns, "memory", t.Logf))
	chart, err := loader.Load(filepath.Join(testutil.RepoRoot(), deploy.ChartDir))
	require.NoError(t, err)

	install := action.NewInstall(cfg)
	install.ReleaseName, install.Namespace, install.CreateNamespace = "meridio", ns, true
	rel, err := install.Run(chart, map[string]any{"image": "registry.example.com/meridio-operator:v2"})
	require.NoError(t, err)
	assert.Contains(t, rel.Manifest, "namespace: green")

	live := &unstructured.Unstructured{}
	live.SetAPIVersion("apps/v1")
	live.SetKind("Deployment")
	live.SetNamespace(ns)
	live.SetName("meridio-operator")
	require.NotNil(t, get(t, c, live), "the operator's Deployment is installed in %s", ns)

	_, err = action.NewUninstall(cfg).Run("meridio")
	require.NoError(t, err)
	assert.Nil(t, get(t, c, live), "uninstalled")
}

// documents splits rendered YAML into canonical JSON documents, skipping empty ones.
func documents(t *testing.T, text string) []string {
	t.Helper()
	var out []string
	for _, doc := range strings.Split("\n"+text, "\n---") {
		var m map[string]any
		require.NoError(t, yaml.Unmarshal([]byte(doc), &m), doc)
		if len(m) > 0 {
			out = append(out, canonical(t, m))
		}
	}
	return out
}

func canonical(t *testing.T, m map[string]any) string {
	t.Helper()
	data, err := yaml.Marshal(m)
	require.NoError(t, err)
	return string(data)
}
