// Package deploy checks that the kustomize bases of config/ build and are accepted by a real
// API server (server-side dry run), as `kubectl apply --dry-run=server -k config/...` would.
package deploy

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/meridio-operator/meridio-operator/internal/localapi"
	"github.com/meridio-operator/meridio-operator/internal/testutil"
)

// env serves the dry runs; deployEnv, an API server of its own, the deployments that are
// undone (CRDs included).
var env, deployEnv *localapi.Env

func TestMain(m *testing.M) {
	os.Exit(testutil.Run(m, func(e ...*localapi.Env) error { env, deployEnv = e[0], e[1]; return nil }, localapi.Options{}, localapi.Options{NoWebhooks: true}))
}

// build runs kustomize on a directory of config/.
func build(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), filepath.Join(testutil.RepoRoot(), "config", dir))
	require.NoError(t, err)
	var out []*unstructured.Unstructured
	for _, r := range res.Resources() {
		data, err := r.MarshalJSON()
		require.NoError(t, err)
		u := &unstructured.Unstructured{}
		require.NoError(t, u.UnmarshalJSON(data))
		out = append(out, u)
	}
	return out
}

// stubCRD stands in for a cert-manager CRD, which this API server does not have.
func stubCRD(plural, kind string) *apiextensionsv1.CustomResourceDefinition {
	return &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: plural + ".cert-manager.io"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "cert-manager.io",
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: plural, Kind: kind},
			Scope: apiextensionsv1.NamespaceScoped,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object", XPreserveUnknownFields: ptr.To(true),
				}},
			}},
		},
	}
}

// installCertManagerStubs installs the cert-manager CRDs the bases use (once per API server).
func installCertManagerStubs(t *testing.T) { installCertManagerStubsOn(t, env.Client) }

// installCertManagerStubsOn installs the stubs through c.
func installCertManagerStubsOn(t *testing.T, c client.Client) {
	t.Helper()
	ctx := context.Background()
	for _, crd := range []*apiextensionsv1.CustomResourceDefinition{stubCRD("certificates", "Certificate"), stubCRD("issuers", "Issuer")} {
		require.NoError(t, client.IgnoreAlreadyExists(c.Create(ctx, crd)))
	}
	require.EventuallyWithT(t, func(col *assert.CollectT) {
		_, err := c.RESTMapper().RESTMapping(schemaGK("cert-manager.io", "Issuer"))
		assert.NoError(col, err)
	}, timeout, tick)
}

// Test_configDryRun builds each base and applies it with a server-side dry run.
func Test_configDryRun(t *testing.T) {
	ctx := context.Background()
	installCertManagerStubs(t)

	for _, dir := range []string{"default", "no-mutating-webhook", "git", "git-verify", "metrics-auth"} {
		t.Run(dir, func(t *testing.T) {
			objs := build(t, dir)
			kinds := map[string]int{}
			for _, o := range objs {
				kinds[o.GetKind()]++
				if o.GetKind() == "Namespace" {
					// Namespaced objects are dry-run into it, so it must exist.
					require.NoError(t, client.IgnoreAlreadyExists(env.Client.Create(ctx, o.DeepCopy())))
				}
			}
			for _, o := range objs {
				err := env.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(o.DeepCopy()), client.DryRunAll, client.ForceOwnership, client.FieldOwner("test"))
				require.NoError(t, err, "%s %s", o.GetKind(), o.GetName())
			}
			assert.Equal(t, 7, kinds["CustomResourceDefinition"])
			assert.Equal(t, 1, kinds["Deployment"])
			assert.Equal(t, 1, kinds["ValidatingWebhookConfiguration"])
			assert.Equal(t, map[string]int{"default": 1, "no-mutating-webhook": 0, "git": 1, "git-verify": 1, "metrics-auth": 1}[dir], kinds["MutatingWebhookConfiguration"])
			assert.Equal(t, map[string]int{"git-verify": 5}[dir]+map[bool]int{true: 4}[dir != "git-verify"], kinds["Role"],
				"operator (in git mode: its read-only role; with verification, plus patch for dry runs), leader election, NSP and front-end roles, all namespaced")
			// Least privilege: no cluster-wide role, but for the authenticated metrics of
			// metrics-auth (the reviews, and the role a scraper is given).
			assert.Equal(t, map[string]int{"metrics-auth": 2}[dir], kinds["ClusterRole"], "least privilege")
			assert.Equal(t, 4, kinds["ValidatingAdmissionPolicy"], "the immutable fields and label")
			assert.Equal(t, 4, kinds["ValidatingAdmissionPolicyBinding"])

			// The same with kubectl itself, which the machine image ships.
			out, ok := kubectlDryRun(t, dir)
			if !ok {
				t.Logf("no kubectl on this machine: checked with the kustomize library only")
				return
			}
			assert.Contains(t, out, "deployment.apps/meridio-operator created (server dry run)")
		})
	}
}

// Test_generatedRoleCoversTheOperator checks the generated Role against what the operator
// reads and writes.
func Test_generatedRoleCoversTheOperator(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testutil.RepoRoot(), "config", "rbac", "role.yaml"))
	require.NoError(t, err)
	var role struct {
		Kind  string
		Rules []struct {
			APIGroups []string `json:"apiGroups"`
			Resources []string
			Verbs     []string
		}
	}
	require.NoError(t, yaml.Unmarshal(data, &role))
	assert.Equal(t, "Role", role.Kind)
	can := func(group, resource, verb string) bool {
		for _, r := range role.Rules {
			if contains(r.APIGroups, group) && contains(r.Resources, resource) && contains(r.Verbs, verb) {
				return true
			}
		}
		return false
	}
	for _, need := range [][3]string{
		{"", "configmaps", "patch"}, {"", "services", "delete"}, {"apps", "deployments", "patch"}, {"apps", "statefulsets", "watch"},
		{"apps", "daemonsets", "delete"}, {"policy", "poddisruptionbudgets", "patch"}, {"meridio.nordix.org", "flows", "patch"},
		{"meridio.nordix.org", "trenches/status", "patch"}, {"meridio.nordix.org", "attractors", "delete"}, {"events.k8s.io", "events", "create"},
	} {
		assert.True(t, can(need[0], need[1], need[2]), "the role lacks %v", need)
	}
	assert.False(t, can("", "secrets", "get"), "the operator reads no secrets")
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
