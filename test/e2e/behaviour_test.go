package e2e

import (
	"context"
	"fmt"
	"os"
	"path"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/internal/testutil"
	"github.com/meridio-operator/meridio-operator/render"
)

// workloads are the rendered objects of a trench, by kind, as the operator delivered them:
// live in the cluster (cluster mode) or committed to the repository (git mode).
func workloads(t require.TestingT, trench string) map[string][]string {
	out := map[string][]string{}
	if gitURL != "" {
		dir := cloneOnce(t)
		entries, err := os.ReadDir(path.Join(dir, gitPath, ns, trench))
		if os.IsNotExist(err) {
			return out
		}
		require.NoError(t, err)
		for _, e := range entries {
			if e.Name() == "kustomization.yaml" || !strings.HasSuffix(e.Name(), ".yaml") {
				continue
			}
			data, err := os.ReadFile(path.Join(dir, gitPath, ns, trench, e.Name()))
			require.NoError(t, err)
			var obj struct {
				Kind     string                `json:"kind"`
				Metadata struct{ Name string } `json:"metadata"`
				Data     map[string]string     `json:"data"`
			}
			require.NoError(t, yaml.Unmarshal(data, &obj))
			out[obj.Kind] = append(out[obj.Kind], obj.Metadata.Name)
		}
		return out
	}
	for _, list := range render.KindLists() {
		require.NoError(t, c.List(context.Background(), list, client.InNamespace(ns), client.MatchingLabels{render.LabelTrench: trench}))
		items, err := render.Items(list)
		require.NoError(t, err)
		for _, o := range items {
			if o.GetDeletionTimestamp() == nil {
				kind := strings.TrimSuffix(reflect.TypeOf(list).Elem().Name(), "List")
				out[kind] = append(out[kind], o.GetName())
			}
		}
	}
	return out
}

// configuration returns the trench ConfigMap's data as delivered (nil when there is none).
func configuration(t require.TestingT, trench string) map[string]string {
	if gitURL != "" {
		dir := cloneOnce(t)
		matches, _ := os.ReadDir(path.Join(dir, gitPath, ns, trench))
		for _, e := range matches {
			if strings.HasPrefix(e.Name(), "configmap-") {
				data, err := os.ReadFile(path.Join(dir, gitPath, ns, trench, e.Name()))
				require.NoError(t, err)
				var cm corev1.ConfigMap
				require.NoError(t, yaml.Unmarshal(data, &cm))
				return cm.Data
			}
		}
		return nil
	}
	var list corev1.ConfigMapList
	require.NoError(t, c.List(context.Background(), &list, client.InNamespace(ns), client.MatchingLabels{render.LabelTrench: trench}))
	if len(list.Items) == 0 {
		return nil
	}
	return list.Items[0].Data
}

// cloneOnce fetches the repository of git mode into a directory of the test (fresh each call:
// the operator pushes while the suite runs).
func cloneOnce(t require.TestingT) string {
	dir, err := os.MkdirTemp("", "meridio-e2e-")
	require.NoError(t, err)
	tt, ok := t.(interface{ Cleanup(func()) })
	if ok {
		tt.Cleanup(func() { _ = os.RemoveAll(dir) })
	}
	out, err := testutil.GitCommand("", "clone", "--quiet", "--depth=1", gitURL, dir).CombinedOutput()
	require.NoError(t, err, "%s", out)
	return dir
}

// create creates the resources of docs in the operator's namespace, and deletes them at the
// end of the test.
func create(t *testing.T, docs ...string) {
	t.Helper()
	for _, d := range docs {
		o := testutil.MustDecode(t, d)
		require.NoError(t, c.Create(context.Background(), o), o.GetName())
		t.Cleanup(func() { _ = client.IgnoreNotFound(c.Delete(context.Background(), o)) })
	}
}

func eventually(t *testing.T, cond func(c *assert.CollectT), msg string) {
	t.Helper()
	require.EventuallyWithT(t, cond, timeout, 200*time.Millisecond, msg)
}

// objectMeta names an object of the operator's namespace.
func objectMeta(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: ns, Name: name} }

// trenchName is unique per run, so that the suite can run again on the same cluster.
func trenchName(base string) string {
	return fmt.Sprintf("%s-%d", base, time.Now().UnixNano()%1_000_000)
}

// Test_trenchLifecycle (the reference's e2e: a trench and its resources render the workload
// set; a Flow edit reaches the ConfigMap; deleting the attractor prunes its workloads; deleting
// the trench removes everything).
func Test_trenchLifecycle(t *testing.T) {
	tr := trenchName("e2e")
	create(t, testutil.TrenchSet(ns, tr)...)
	want := map[string]int{"ConfigMap": 1, "Service": 2, "StatefulSet": 2, "Deployment": 2, "DaemonSet": 1, "PodDisruptionBudget": 1}
	eventually(t, func(col *assert.CollectT) {
		got := workloads(col, tr)
		for kind, n := range want {
			assert.Len(col, got[kind], n, kind)
		}
	}, "the workload set is delivered")

	flow := &meridiov1.Flow{}
	require.NoError(t, c.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "f-" + tr}, flow))
	patch := client.MergeFrom(flow.DeepCopy())
	flow.Spec.DestinationPorts = []string{"8080"}
	require.NoError(t, c.Patch(context.Background(), flow, patch))
	eventually(t, func(col *assert.CollectT) {
		assert.Contains(col, configuration(col, tr)["flows"], "8080")
	}, "the Flow edit reaches the ConfigMap")

	require.NoError(t, c.Delete(context.Background(), &meridiov1.Attractor{ObjectMeta: objectMeta("a-" + tr)}))
	eventually(t, func(col *assert.CollectT) {
		got := workloads(col, tr)
		assert.Empty(col, got["Deployment"], "front-end and NSE-VLAN")
		assert.Empty(col, got["PodDisruptionBudget"])
	}, "the attractor's workloads are pruned")

	require.NoError(t, c.Delete(context.Background(), &meridiov1.Trench{ObjectMeta: objectMeta(tr)}))
	eventually(t, func(col *assert.CollectT) {
		assert.Empty(col, workloads(col, tr))
		err := c.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "f-" + tr}, &meridiov1.Flow{})
		assert.True(col, apierrors.IsNotFound(err), "the trench's resources go with it: %v", err)
	}, "the trench is removed with everything")
}

// Test_invalidRefused: a bad resource is refused with a message naming the field, and nothing
// of it is stored.
func Test_invalidRefused(t *testing.T) {
	tr := trenchName("e2e-bad")
	create(t, testutil.CR(ns, "Trench", tr, "", `{ip-family: ipv4}`))
	for _, tc := range []struct{ doc, field string }{
		{testutil.CR(ns, "Vip", "v-"+tr, tr, `{address: 20.0.0.1/24}`), "spec.address"},
		{testutil.CR(ns, "Flow", "f-"+tr, tr, `{vips: [x], protocols: [tcp], priority: 1, destination-ports: ["90-80"]}`), "spec.destination-ports[0]"},
		{testutil.CR(ns, "Gateway", "g-"+tr, tr, `{address: gw.example.com}`), "spec.address"},
	} {
		o := testutil.MustDecode(t, tc.doc)
		err := c.Create(context.Background(), o)
		require.Error(t, err, tc.doc)
		assert.Contains(t, err.Error(), tc.field)
	}
}
