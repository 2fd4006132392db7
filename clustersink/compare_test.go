package clustersink

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Test_loosely: the comparison of values no schema describes.
func Test_loosely(t *testing.T) {
	for _, tc := range []struct {
		name          string
		desired, live string
		want          bool
	}{
		{"equal", `{"a":1,"b":"x"}`, `{"a":1,"b":"x"}`, true},
		{"server defaults and other owners' fields", `{"a":1}`, `{"a":1,"defaulted":true}`, true},
		{"changed value", `{"a":1}`, `{"a":2}`, false},
		{"missing field", `{"a":1,"b":2}`, `{"a":1}`, false},
		{"null means don't care", `{"a":null}`, `{}`, true},
		{"list item missing", `{"c":[{"name":"x"},{"name":"y"}]}`, `{"c":[{"name":"x"}]}`, false},
		{"list reordered", `{"c":["a","b"]}`, `{"c":["b","a"]}`, false},
		{"empty map against absent", `{"m":{}}`, `{}`, true},
		{"empty list against absent", `{"l":[]}`, `{}`, true},
		{"map against scalar", `{"m":{"a":1}}`, `{"m":"x"}`, false},
		{"numbers of different Go types", `{"n":1.0}`, `{"n":1}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, loosely(normalized(t, tc.desired), normalized(t, tc.live)))
		})
	}
}

// Test_coversBySchema: over the real schemas of the built-in kinds, what a forced server-side
// apply would change is drift (an atomic list or atomic map that differs in any way, a changed
// or missing field), and what it would keep is not (keyed-list items, labels and annotations
// others added, API-server defaults).
func Test_coversBySchema(t *testing.T) {
	daemonSet := `{"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"proxy","labels":{"app":"proxy"}},
	 "spec":{"selector":{"matchLabels":{"app":"proxy"}},"template":{"metadata":{"labels":{"app":"proxy"}},"spec":{
	  "nodeSelector":{"zone":"a"},
	  "tolerations":[{"key":"k","operator":"Exists"}],
	  "initContainers":[{"name":"sysctl","image":"busybox","command":["/bin/sh"],"args":["-c","sysctl -w x=1"]}],
	  "containers":[{"name":"proxy","image":"proxy:1","env":[{"name":"A","value":"1"}],
	   "ports":[{"containerPort":80}],
	   "readinessProbe":{"exec":{"command":["check","--ready"]}}}],
	  "volumes":[{"name":"v","emptyDir":{}}]}}}}`
	edits := []struct {
		name  string
		edit  func(pod map[string]any)
		drift bool
	}{
		{"unchanged", func(map[string]any) {}, false},
		{"atomic list appended (args)", func(p map[string]any) { appendTo(container(p, "initContainers"), "args", "; echo drift") }, true},
		{"atomic list shortened (args)", func(p map[string]any) { c := container(p, "initContainers"); c["args"] = c["args"].([]any)[:1] }, true},
		{"atomic list reordered (args)", func(p map[string]any) {
			c := container(p, "initContainers")
			a := c["args"].([]any)
			a[0], a[1] = a[1], a[0]
		}, true},
		{"atomic list emptied (command)", func(p map[string]any) { delete(container(p, "initContainers"), "command") }, true},
		{"probe command appended", func(p map[string]any) {
			appendTo(container(p, "containers")["readinessProbe"].(map[string]any)["exec"].(map[string]any), "command", "--slow")
		}, true},
		{"atomic list of structs appended (tolerations)", func(p map[string]any) {
			appendTo(p, "tolerations", map[string]any{"key": "other", "operator": "Exists"})
		}, true},
		{"atomic map key added (nodeSelector)", func(p map[string]any) { p["nodeSelector"].(map[string]any)["disk"] = "ssd" }, true},
		{"image changed (kubectl edit)", func(p map[string]any) { container(p, "containers")["image"] = "evil:1" }, true},
		{"owned field missing", func(p map[string]any) { delete(container(p, "containers"), "image") }, true},
		{"keyed list item added by another manager (env)", func(p map[string]any) {
			appendTo(container(p, "containers"), "env", map[string]any{"name": "B", "value": "2"})
		}, false},
		{"keyed list item added by another manager (containers)", func(p map[string]any) { appendTo(p, "containers", map[string]any{"name": "sidecar", "image": "s:1"}) }, false},
		{"keyed list item added first (volumes)", func(p map[string]any) {
			p["volumes"] = append([]any{map[string]any{"name": "w", "emptyDir": map[string]any{}}}, p["volumes"].([]any)...)
		}, false},
		{"keyed list item removed (env)", func(p map[string]any) { delete(container(p, "containers"), "env") }, true},
		{"keyed list item changed (env)", func(p map[string]any) {
			container(p, "containers")["env"].([]any)[0].(map[string]any)["value"] = "9"
		}, true},
		{"API-server defaults", func(p map[string]any) {
			c := container(p, "containers")
			c["terminationMessagePath"] = "/dev/termination-log"
			c["ports"].([]any)[0].(map[string]any)["protocol"] = "TCP"
			p["tolerations"].([]any)[0].(map[string]any)["effect"] = ""
			p["restartPolicy"] = "Always"
		}, false},
	}
	for _, tc := range edits {
		t.Run(tc.name, func(t *testing.T) {
			desired := normalized(t, daemonSet).(map[string]any)
			live := normalized(t, daemonSet).(map[string]any)
			tc.edit(live["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any))
			sh, err := shapeOf(appsv1.SchemeGroupVersion.WithKind("DaemonSet"))
			require.NoError(t, err)
			assert.Equal(t, !tc.drift, sh.covers(desired, live))
		})
	}

	t.Run("metadata others own", func(t *testing.T) {
		desired := normalized(t, daemonSet).(map[string]any)
		live := normalized(t, daemonSet).(map[string]any)
		meta := live["metadata"].(map[string]any)
		meta["labels"].(map[string]any)["team"] = "blue"
		meta["annotations"] = map[string]any{"deployment.kubernetes.io/revision": "1"}
		sh, err := shapeOf(appsv1.SchemeGroupVersion.WithKind("DaemonSet"))
		require.NoError(t, err)
		assert.True(t, sh.covers(desired, live))
	})

	t.Run("service ports keyed with a defaulted protocol", func(t *testing.T) {
		sh, err := shapeOf(corev1.SchemeGroupVersion.WithKind("Service"))
		require.NoError(t, err)
		desired := normalized(t, `{"spec":{"ports":[{"port":7777,"targetPort":7777}],"selector":{"app":"a"}}}`)
		live := normalized(t, `{"spec":{"ports":[{"port":9,"protocol":"UDP"},{"port":7777,"protocol":"TCP","targetPort":7777}],"selector":{"app":"a"},"clusterIP":"10.0.0.1","ipFamilies":["IPv4"]}}`)
		assert.True(t, sh.covers(desired, live), "found by its key, the protocol defaulted")
		assert.False(t, sh.covers(desired, normalized(t, `{"spec":{"ports":[{"port":7777,"protocol":"UDP","targetPort":7777}],"selector":{"app":"a"}}}`)), "the same port of another protocol is another item")
		assert.False(t, sh.covers(desired, normalized(t, `{"spec":{"ports":[{"port":7777,"protocol":"TCP","targetPort":7777}],"selector":{"app":"a","x":"y"}}}`)), "the selector is an atomic map")
	})

	t.Run("kinds without a schema", func(t *testing.T) {
		_, err := shapeOf(schema.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "Nothing"})
		assert.Error(t, err)
	})
}

func normalized(t *testing.T, s string) any {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal([]byte(s), &v))
	n, err := normalize(v)
	require.NoError(t, err)
	return n
}

// container returns the first container of the pod spec's list (containers or initContainers).
func container(pod map[string]any, list string) map[string]any {
	return pod[list].([]any)[0].(map[string]any)
}

// appendTo appends v to the list m[key].
func appendTo(m map[string]any, key string, v any) { m[key] = append(m[key].([]any), v) }
