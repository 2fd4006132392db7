// Package health checks the health assessments shipped in examples/ for GitOps tools: the
// Argo CD Lua health customizations, run with gopher-lua (the interpreter Argo CD embeds), on
// statuses as the operator writes them.
package health

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	lua "github.com/yuin/gopher-lua"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/meridio-operator/meridio-operator/internal/testutil"
)

// health runs an Argo CD health script on obj, as Argo CD does: obj is a global, the script
// returns a table with status and message.
func health(t *testing.T, script string, obj map[string]any) (string, string) {
	t.Helper()
	L := lua.NewState()
	defer L.Close()
	L.SetGlobal("obj", toLua(L, obj))
	require.NoError(t, L.DoString("local function f()\n"+script+"\nend\nresult = f()"))
	res, ok := L.GetGlobal("result").(*lua.LTable)
	require.True(t, ok, "the script returns a table")
	return res.RawGetString("status").String(), res.RawGetString("message").String()
}

func toLua(L *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case map[string]any:
		tb := L.NewTable()
		for k, e := range v {
			tb.RawSetString(k, toLua(L, e))
		}
		return tb
	case []any:
		tb := L.NewTable()
		for _, e := range v {
			tb.Append(toLua(L, e))
		}
		return tb
	case string:
		return lua.LString(v)
	case float64:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case bool:
		return lua.LBool(v)
	}
	return lua.LNil
}

func obj(t *testing.T, doc string) map[string]any {
	var m map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(doc), &m))
	return m
}

// TestArgoCDHealth: every kind has a script; each status the operator writes maps to the
// health a user expects.
func TestArgoCDHealth(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testutil.RepoRoot(), "examples", "argocd", "health.yaml"))
	require.NoError(t, err)
	var cm corev1.ConfigMap
	require.NoError(t, yaml.Unmarshal(data, &cm))
	for _, kind := range []string{"Trench", "Attractor", "Gateway", "Vip", "Conduit", "Stream", "Flow"} {
		script := cm.Data["resource.customizations.health.meridio.nordix.org_"+kind]
		require.NotEmpty(t, script, kind)
		for name, tc := range map[string]struct{ doc, status, message string }{
			"no status":  {"metadata: {generation: 1}", "Progressing", "waiting for the operator to report status"},
			"old status": {"metadata: {generation: 2}\nstatus: {observedGeneration: 1, conditions: [{type: Ready, status: 'True', reason: Succeeded}]}", "Progressing", "waiting for the operator to act on generation 2"},
			"ready": {"metadata: {generation: 2}\nstatus: {observedGeneration: 2, conditions: [{type: Ready, status: 'True', reason: Succeeded, message: 9 objects ready}]}",
				"Healthy", "Succeeded: 9 objects ready"},
			"left out": {"metadata: {generation: 1}\nstatus: {observedGeneration: 1, conditions: [{type: Ready, status: 'True', reason: NotConfigured, message: spec.stream is empty}]}",
				"Healthy", "NotConfigured: spec.stream is empty"},
			"progressing": {"metadata: {generation: 1}\nstatus: {observedGeneration: 1, conditions: [{type: Ready, status: 'False', reason: Progressing, message: waiting}, {type: Reconciling, status: 'True', reason: Progressing}]}",
				"Progressing", "Progressing: waiting"},
			"dangling": {"metadata: {generation: 1}\nstatus: {observedGeneration: 1, conditions: [{type: Ready, status: 'False', reason: StreamNotFound, message: stream s does not exist}]}",
				"Progressing", "StreamNotFound: stream s does not exist"},
			"stalled": {"metadata: {generation: 1}\nstatus: {observedGeneration: 1, conditions: [{type: Ready, status: 'False', reason: InvalidSpec, message: no conduit}, {type: Stalled, status: 'True', reason: InvalidSpec, message: no conduit}]}",
				"Degraded", "InvalidSpec: no conduit"},
		} {
			status, message := health(t, script, obj(t, tc.doc))
			assert.Equal(t, tc.status, status, "%s %s", kind, name)
			assert.Equal(t, tc.message, strings.TrimSpace(message), "%s %s", kind, name)
		}
	}
}
