package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meridio-operator/meridio-operator/clustersink"
	"github.com/meridio-operator/meridio-operator/internal/snapshot"
	"github.com/meridio-operator/meridio-operator/render"
)

// TestDrift_asAForcedApplyDecides: another manager's edit of a rendered object is drift
// exactly when a forced server-side apply of the render would change the object, asked of the
// API server itself with a dry run (the oracle). The operator writes the object once when it
// would, and not at all when it would not.
func TestDrift_asAForcedApplyDecides(t *testing.T) {
	const trench = "drift"
	create(t, trenchSet(trench)...)
	eventually(t, func(c *assert.CollectT) { assert.Len(c, resourceVersions(t, trench), 9) }, "rendered")
	settle(t, 300*time.Millisecond)

	const proxy, initArgs = "proxy-c-" + trench, "/spec/template/spec/initContainers/0/args"
	const container = "/spec/template/spec/containers/0"
	repaired := map[string]bool{}
	for _, tc := range []struct {
		name, kind, object string
		patch              string // a JSON patch, sent by another field manager
		drift              bool
	}{
		{"atomic list appended", "DaemonSet", proxy, `[{"op":"add","path":"` + initArgs + `/-","value":"; echo drift"}]`, true},
		{"atomic list shortened", "DaemonSet", proxy, `[{"op":"remove","path":"` + initArgs + `/1"}]`, true},
		{"atomic list reordered", "DaemonSet", proxy, `[{"op":"move","from":"` + initArgs + `/1","path":"` + initArgs + `/0"}]`, true},
		{"probe command appended", "DaemonSet", proxy, `[{"op":"add","path":"` + container + `/livenessProbe/exec/command/-","value":"-v"}]`, true},
		{"keyed list item added (env)", "DaemonSet", proxy, `[{"op":"add","path":"` + container + `/env/-","value":{"name":"EXTRA","value":"x"}}]`, false},
		{"keyed list item added (containers)", "DaemonSet", proxy, `[{"op":"add","path":"/spec/template/spec/containers/-","value":{"name":"sidecar","image":"sidecar:1"}}]`, false},
		{"keyed list item removed (env)", "DaemonSet", proxy, `[{"op":"remove","path":"` + container + `/env/0"}]`, true},
		{"map key added (labels)", "DaemonSet", proxy, `[{"op":"add","path":"/metadata/labels/team","value":"blue"}]`, false},
		{"field the render leaves out (nodeSelector)", "DaemonSet", proxy, `[{"op":"add","path":"/spec/template/spec/nodeSelector","value":{"disk":"ssd"}}]`, false},
		{"field taken over (image)", "DaemonSet", proxy, `[{"op":"replace","path":"` + container + `/image","value":"evil:1"}]`, true},
		{"atomic map key added (selector)", "Service", "nsp-service-" + trench, `[{"op":"add","path":"/spec/selector/extra","value":"x"}]`, true},
		{"keyed list item renamed (env)", "Deployment", "nse-vlan-a-" + trench, `[{"op":"add","path":"/spec/template/spec/containers/0/env/0/name","value":"NSM_RENAMED"}]`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			obj := &unstructured.Unstructured{}
			obj.SetAPIVersion(map[string]string{"DaemonSet": "apps/v1", "Deployment": "apps/v1", "Service": "v1"}[tc.kind])
			obj.SetKind(tc.kind)
			obj.SetNamespace(ns)
			obj.SetName(tc.object)
			require.NoError(t, c.Patch(ctx, obj, client.RawPatch(types.JSONPatchType, []byte(tc.patch)), client.FieldOwner("kubectl-patch")))
			edited := obj.DeepCopy()

			oracle := forcedApplyDryRun(t, trench, edited)
			assert.Equal(t, tc.drift, !sameState(edited, oracle), "the case's own expectation, against the API server's")

			wrote := applies(settle(t, 300*time.Millisecond))
			path := fmt.Sprintf("/namespaces/%s/%ss/%s", ns, lower(tc.kind), tc.object)
			live := obj.DeepCopy()
			require.NoError(t, c.Get(ctx, client.ObjectKeyFromObject(obj), live))
			if tc.drift {
				want := 1
				if !repaired[path] {
					// A created object's first apply is preceded by the one upgrade of its managed
					// fields (see clustersink's write).
					want, repaired[path] = 2, true
				}
				assert.Len(t, matching(wrote, path), want, "drift is repaired with one apply: %v", wrote)
				assert.True(t, sameState(oracle, live), "repaired as a forced apply would")
			} else {
				assert.Empty(t, matching(wrote, path), "nothing a forced apply would change is written")
				assert.Equal(t, edited.GetResourceVersion(), live.GetResourceVersion())
			}
		})
	}
}

// forcedApplyDryRun asks the API server what a forced apply of the render of live's trench
// would make of live, by the operator's field manager, without changing anything.
func forcedApplyDryRun(t *testing.T, trench string, live *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	ctx := context.Background()
	snap, err := snapshot.Load(ctx, c, ns, trench)
	require.NoError(t, err)
	res, err := render.Render(snap, render.DefaultSettings())
	require.NoError(t, err)
	for _, it := range res.Items {
		if it.Object.GetName() != live.GetName() || it.Object.GetObjectKind().GroupVersionKind().Kind != live.GetKind() {
			continue
		}
		m, err := clustersink.Applied(it)
		require.NoError(t, err)
		u := &unstructured.Unstructured{Object: m}
		require.NoError(t, c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.ForceOwnership, client.FieldOwner(clustersink.FieldOwner), client.DryRunAll))
		return u
	}
	t.Fatalf("%s %s is not rendered", live.GetKind(), live.GetName())
	return nil
}

// sameState tells whether two versions of an object hold the same spec, labels, annotations and
// owners (what an apply may change; not the resourceVersion, generation or managed fields).
func sameState(a, b *unstructured.Unstructured) bool {
	state := func(u *unstructured.Unstructured) string {
		data, _ := json.Marshal([]any{u.Object["spec"], u.GetLabels(), u.GetAnnotations(), u.GetOwnerReferences()})
		return string(data)
	}
	return state(a) == state(b)
}

// lower is the plural path segment stem of a kind.
func lower(kind string) string { return strings.ToLower(kind) }

// matching keeps the writes whose path ends with suffix.
func matching(writes []string, suffix string) []string {
	var out []string
	for _, w := range writes {
		if strings.HasSuffix(w, suffix) {
			out = append(out, w)
		}
	}
	return out
}
