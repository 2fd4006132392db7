package deploy

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meridio-operator/meridio-operator/internal/deploy"
	"github.com/meridio-operator/meridio-operator/internal/spiffecert"
)

// spireControllerManager is the module whose CRDs spire-controller-manager installs.
const spireControllerManager = "github.com/spiffe/spire-controller-manager@v0.6.3"

// Test_spireConfig: config/spire (kubectl apply -k) and deploy --certificates=spire, in both
// sinks, are taken by the API server in a server-side dry run with spire-controller-manager's
// ClusterSPIFFEID CRD installed (read from its module). cert-manager is gone from them; the
// manager gets its SVID from the CSI driver's socket; the SPIFFE ID carries the webhook
// Service's DNS name; and the operator may update its two webhook configurations and no other.
func Test_spireConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("downloads a module")
	}
	ctx := context.Background()
	installClusterSPIFFEIDCRD(t)

	cases := map[string][]*unstructured.Unstructured{"config/spire": build(t, "spire")}
	for _, sink := range []string{"cluster", "git"} {
		objs, err := deploy.Manifests(deploy.Options{Namespace: "spire-" + sink, Sink: sink, Certificates: "spire"})
		require.NoError(t, err)
		cases["deploy --certificates=spire --sink="+sink] = objs
	}
	for name, objs := range cases {
		t.Run(name, func(t *testing.T) {
			var ns string
			var d appsv1.Deployment
			var webhookService string
			var spiffeID map[string]any
			var webhookConfigs []string
			var role *rbacv1.ClusterRole
			for _, o := range objs {
				switch o.GetKind() {
				case "Namespace":
					ns = o.GetName()
					require.NoError(t, client.IgnoreAlreadyExists(env.Client.Create(ctx, o.DeepCopy())))
				case "Deployment":
					fromUnstructured(t, o, &d)
				case "Service":
					webhookService = o.GetName()
				case "ClusterSPIFFEID":
					spiffeID = o.Object["spec"].(map[string]any)
				case "ClusterRole":
					role = &rbacv1.ClusterRole{}
					fromUnstructured(t, o, role)
				case "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration":
					webhookConfigs = append(webhookConfigs, o.GetName())
					assert.NotContains(t, o.GetAnnotations(), "cert-manager.io/inject-ca-from", "cert-manager's CA injector would overwrite the caBundle")
				case "Issuer", "Certificate":
					t.Errorf("%s %s: cert-manager is not used with SPIRE", o.GetKind(), o.GetName())
				}
			}
			for _, o := range objs {
				err := env.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(o.DeepCopy()), client.DryRunAll, client.ForceOwnership, client.FieldOwner("test"))
				require.NoError(t, err, "%s %s", o.GetKind(), o.GetName())
			}

			c := d.Spec.Template.Spec.Containers[0]
			assert.Contains(t, c.Args, "--webhook-cert-source=spiffe")
			assert.Contains(t, c.Env, corev1.EnvVar{Name: spiffecert.EndpointSocketEnv, Value: "unix:///spiffe-workload-api/spire-agent.sock"})
			var drivers []string
			for _, v := range d.Spec.Template.Spec.Volumes {
				assert.Nil(t, v.Secret, "volume %s: no certificate Secret", v.Name)
				if v.CSI != nil {
					drivers = append(drivers, v.CSI.Driver)
				}
			}
			assert.Equal(t, []string{"csi.spiffe.io"}, drivers, "the Workload API socket of the SPIFFE CSI driver")

			require.NotNil(t, spiffeID, "a ClusterSPIFFEID")
			assert.Equal(t, []any{webhookService + ".{{ .PodMeta.Namespace }}.svc"}, spiffeID["dnsNameTemplates"], "the name the API server checks")
			assert.Equal(t, spiffecert.Hint, spiffeID["hint"], "the SVID the operator picks")
			assert.Equal(t, map[string]any{"kubernetes.io/metadata.name": ns}, spiffeID["namespaceSelector"].(map[string]any)["matchLabels"])
			assert.Equal(t, map[string]any{"control-plane": d.Spec.Template.Labels["control-plane"]}, spiffeID["podSelector"].(map[string]any)["matchLabels"])

			require.NotNil(t, role)
			slices.Sort(webhookConfigs)
			want := slices.Sorted(slices.Values(spiffecert.DefaultConfigurations))
			assert.Equal(t, want, webhookConfigs, "the operator's default --webhook-configurations")
			require.Len(t, role.Rules, 1)
			assert.ElementsMatch(t, want, role.Rules[0].ResourceNames)
		})
	}

	// kubectl's own kustomize takes the component too.
	if out, ok := kubectlDryRun(t, "spire"); ok {
		assert.Contains(t, out, "clusterspiffeid.spire.spiffe.io/meridio-operator-meridio-operator-system created (server dry run)")
	}

	// The cluster role for real: the operator's account may read and update its two webhook
	// configurations, and nothing else of their kind.
	objs, err := deploy.Manifests(deploy.Options{Namespace: "spire-rbac", Certificates: "spire"})
	require.NoError(t, err)
	for _, o := range objs {
		if o.GetKind() == "ClusterRole" || o.GetKind() == "ClusterRoleBinding" {
			require.NoError(t, env.Client.Create(ctx, o.DeepCopy()))
		}
	}
	allowed := func(resource, name, verb string) bool {
		r := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:               "system:serviceaccount:spire-rbac:meridio-operator",
			ResourceAttributes: &authorizationv1.ResourceAttributes{Group: admissionv1.GroupName, Resource: resource, Name: name, Verb: verb},
		}}
		require.NoError(t, env.Client.Create(ctx, r))
		return r.Status.Allowed
	}
	for _, name := range spiffecert.DefaultConfigurations {
		for _, resource := range []string{"validatingwebhookconfigurations", "mutatingwebhookconfigurations"} {
			assert.True(t, allowed(resource, name, "get"), "%s %s get", resource, name)
			assert.True(t, allowed(resource, name, "update"), "%s %s update", resource, name)
			assert.False(t, allowed(resource, name, "delete"), "%s %s delete", resource, name)
		}
	}
	assert.False(t, allowed("validatingwebhookconfigurations", "somebody-elses", "update"))
	assert.False(t, allowed("validatingwebhookconfigurations", "", "list"))
}

// installClusterSPIFFEIDCRD installs spire-controller-manager's ClusterSPIFFEID CRD, as that
// project ships it in its module.
func installClusterSPIFFEIDCRD(t *testing.T) {
	t.Helper()
	cmd := exec.Command("go", "mod", "download", "-json", spireControllerManager)
	cmd.Dir = t.TempDir() // outside this module: go.mod and go.sum stay as they are
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
	out, err := cmd.Output()
	require.NoError(t, err, "go mod download %s", spireControllerManager)
	var mod struct{ Dir string }
	require.NoError(t, json.Unmarshal(out, &mod))
	installCRD(t, filepath.Join(mod.Dir, "config", "crd", "bases", "spire.spiffe.io_clusterspiffeids.yaml"))
}
