package admission

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/internal/testutil"
	"github.com/meridio-operator/meridio-operator/render"
)

// bigFlow is a Flow of trench t1 whose byte-matches take about 700 kB in the trench's
// ConfigMap: two of them are more than a ConfigMap may hold.
func bigFlow(name string) string {
	var m []string
	for j := range 29_000 {
		m = append(m, fmt.Sprintf("%q", fmt.Sprintf("tcp[0:2] = %d", j)))
	}
	return cr("Flow", name, "t1", `{stream: s1, vips: [vx], protocols: [tcp], priority: 1, byte-matches: [`+strings.Join(m, ", ")+`]}`)
}

func createIn(t *testing.T, c client.Client, ns string, docs ...string) error {
	t.Helper()
	for _, d := range docs {
		o := testutil.MustDecode(t, d)
		o.SetNamespace(ns)
		if err := c.Create(context.Background(), o); err != nil {
			return err
		}
	}
	return nil
}

// Test_configurationTooLarge_refused: the webhook refuses a resource that would make its
// trench's ConfigMap larger than the API server accepts, saying so with the size and the limit.
func Test_configurationTooLarge_refused(t *testing.T) {
	c := env.Client
	ns := testutil.Namespace(t, c)
	require.NoError(t, createIn(t, c, ns, fixtures...))
	require.NoError(t, createIn(t, c, ns, bigFlow("big-0")))
	err := createIn(t, c, ns, bigFlow("big-1"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "spec: Invalid value: the trench's configuration ConfigMap meridio-configuration-t1 would hold")
	assert.Contains(t, err.Error(), "over the API server's limit of 1048576 bytes")
}

// Test_configurationTooLarge_stalls: with no webhook, the resource gets in; the operator
// reports the trench (and its resources) Stalled with the size and the limit, delivers nothing
// of it (the ConfigMap keeps the last configuration that fitted) and does not retry.
func Test_configurationTooLarge_stalls(t *testing.T) {
	ctx := context.Background()
	c := bareEnv.Client
	ns := testutil.Namespace(t, c)
	require.NoError(t, createIn(t, c, ns, append(fixtures, cr("Conduit", "c1", "t1", `{}`), bigFlow("big-0"))...))
	cm := &corev1.ConfigMap{}
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		require.NoError(ct, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "meridio-configuration-t1"}, cm))
		assert.Contains(ct, cm.Data[render.KeyFlows], "name: big-0")
	}, 30*time.Second, 100*time.Millisecond)

	require.NoError(t, createIn(t, c, ns, bigFlow("big-1")))
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		tr := &meridiov1.Trench{}
		require.NoError(ct, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "t1"}, tr))
		stalled := apimeta.FindStatusCondition(tr.Status.Conditions, meta.StalledCondition)
		require.NotNil(ct, stalled)
		assert.Equal(ct, render.ReasonConfigurationTooLarge, stalled.Reason)
		assert.Contains(ct, stalled.Message, "over the API server's limit of 1048576")
		f := &meridiov1.Flow{}
		require.NoError(ct, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "big-1"}, f))
		ready := apimeta.FindStatusCondition(f.Status.Conditions, meta.ReadyCondition)
		require.NotNil(ct, ready)
		assert.Equal(ct, render.ReasonConfigurationTooLarge, ready.Reason)
	}, 30*time.Second, 100*time.Millisecond)
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "meridio-configuration-t1"}, cm))
	assert.Contains(t, cm.Data[render.KeyFlows], "name: big-0")
	assert.NotContains(t, cm.Data[render.KeyFlows], "name: big-1", "nothing of the trench was delivered")
}
