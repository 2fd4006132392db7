package deploy

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meridio-operator/meridio-operator/internal/deploy"
)

// Test_makeDeploy: make deploy NAMESPACE=red (what `meridio-operator deploy` does) creates the
// operator's objects in that namespace, with webhooks that admit and call it there; a second
// run changes nothing; make undeploy leaves nothing behind; make install is the CRDs alone.
func Test_makeDeploy(t *testing.T) {
	ctx := context.Background()
	c := deployEnv.Client
	installCertManagerStubsOn(t, c)
	for _, tc := range []struct {
		name string
		opts deploy.Options
		// keepCRDs undeploys all but the CRDs: CRDs deleted right after they were created
		// again can stay Terminating on this API server while their storage starts (the first
		// case covers their removal).
		keepCRDs bool
	}{
		{"cluster mode", deploy.Options{Namespace: "red", Image: "registry.example.com/meridio-operator:v1"}, false},
		{"git mode without the mutating webhook", deploy.Options{Namespace: "blue", Sink: "git", NoMutatingWebhook: true, GitURL: "https://git.example.com/fleet.git", GitPath: "clusters/blue"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := deploy.Manifests(tc.opts)
			require.NoError(t, err)
			ns := tc.opts.Namespace
			text, err := deploy.Print(objs)
			require.NoError(t, err)
			assert.NotContains(t, string(text), "meridio-operator-system", "every mention of the namespace is the chosen one")

			changed, err := deploy.Apply(ctx, c, objs)
			require.NoError(t, err)
			assert.Len(t, changed, len(objs), "every object created")
			kinds := map[string]int{}
			for _, o := range objs {
				kinds[o.GetKind()]++
				live := get(t, c, o)
				require.NotNil(t, live, "%s %s", o.GetKind(), o.GetName())
				if o.GetNamespace() != "" {
					assert.Equal(t, ns, live.GetNamespace())
				}
				switch o.GetKind() {
				case "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration":
					hooks, _, _ := unstructured.NestedSlice(live.Object, "webhooks")
					require.NotEmpty(t, hooks)
					for _, h := range hooks {
						m := h.(map[string]any)
						svcNS, _, _ := unstructured.NestedString(m, "clientConfig", "service", "namespace")
						selected, _, _ := unstructured.NestedString(m, "namespaceSelector", "matchLabels", "kubernetes.io/metadata.name")
						assert.Equal(t, ns, svcNS, "the webhook calls the operator in %s", ns)
						assert.Equal(t, ns, selected, "the webhook admits the resources of %s", ns)
					}
					assert.True(t, strings.HasPrefix(live.GetAnnotations()["cert-manager.io/inject-ca-from"], ns+"/"))
				case "Deployment":
					containers, _, _ := unstructured.NestedSlice(live.Object, "spec", "template", "spec", "containers")
					op := containers[0].(map[string]any)
					env := map[string]any{}
					for _, e := range op["env"].([]any) {
						env[e.(map[string]any)["name"].(string)] = e.(map[string]any)["value"]
					}
					if tc.opts.Image != "" {
						assert.Equal(t, tc.opts.Image, op["image"])
					}
					if tc.opts.NoMutatingWebhook {
						assert.Equal(t, "false", env["ENABLE_MUTATING_WEBHOOK"])
					}
					if tc.opts.Sink == "git" {
						assert.Equal(t, tc.opts.GitURL, env["GIT_URL"])
						assert.Contains(t, op["args"], "--git-path="+tc.opts.GitPath)
						assert.Contains(t, op["args"], "--sink=git")
					}
				}
			}
			assert.Equal(t, 1, kinds["Namespace"])
			assert.Equal(t, 7, kinds["CustomResourceDefinition"])
			assert.Equal(t, map[bool]int{false: 1}[tc.opts.NoMutatingWebhook], kinds["MutatingWebhookConfiguration"])

			again, err := deploy.Apply(ctx, c, objs)
			require.NoError(t, err)
			assert.Empty(t, again, "a second deploy changes nothing")

			undeploy := objs
			if tc.keepCRDs {
				undeploy = nil
				for _, o := range objs {
					if o.GetKind() != "CustomResourceDefinition" {
						undeploy = append(undeploy, o)
					}
				}
			}
			deleted, err := deploy.Delete(ctx, c, undeploy)
			require.NoError(t, err)
			assert.Len(t, deleted, len(undeploy))
			for _, o := range undeploy {
				if live := get(t, c, o); live != nil {
					// This API server runs no namespace controller: a deleted namespace stays
					// Terminating; a CRD goes once its finalizer has run.
					assert.NotNil(t, live.GetDeletionTimestamp(), "%s %s left behind", o.GetKind(), o.GetName())
				}
			}
			require.EventuallyWithT(t, func(col *assert.CollectT) {
				for _, o := range undeploy {
					if o.GetKind() == "CustomResourceDefinition" {
						assert.Nil(col, get(t, c, o), "CRD %s", o.GetName())
					}
				}
			}, time.Minute, tick, "the CRDs are gone")
		})
	}

	crds, err := deploy.Manifests(deploy.Options{CRDsOnly: true})
	require.NoError(t, err)
	require.Len(t, crds, 7)
	for _, o := range crds {
		assert.Equal(t, "CustomResourceDefinition", o.GetKind())
	}
}

// get reads the live state of o through c (nil when absent).
func get(t *testing.T, c client.Client, o *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(o.GroupVersionKind())
	err := c.Get(context.Background(), client.ObjectKeyFromObject(o), live)
	if apierrors.IsNotFound(err) || apimeta.IsNoMatchError(err) {
		return nil
	}
	require.NoError(t, err)
	return live
}
