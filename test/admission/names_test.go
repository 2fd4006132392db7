package admission

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/internal/testutil"
	"github.com/meridio-operator/meridio-operator/render"
)

// Test_invalidNameStalls: with no webhook installed, an attractor whose Deployments can never
// be created (its name makes a pod label of more than 63 characters) gets in; the operator
// reports it Stalled with a message naming the rendered object and the limit, and still
// renders the rest of its trench.
func Test_invalidNameStalls(t *testing.T) {
	ctx := context.Background()
	c := bareEnv.Client
	ns := testutil.Namespace(t, c)
	long := strings.Repeat("a", 50)
	for _, d := range []string{
		cr("Trench", "t1", "", `{ip-family: dualstack}`),
		cr("Conduit", "c9", "t1", `{}`),
		cr("Attractor", long, "t1", attractorSpec),
	} {
		o := testutil.MustDecode(t, d)
		o.SetNamespace(ns)
		require.NoError(t, c.Create(ctx, o))
	}
	assert.EventuallyWithT(t, func(ct *assert.CollectT) {
		a := &meridiov1.Attractor{}
		require.NoError(ct, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: long}, a))
		stalled := apimeta.FindStatusCondition(a.Status.Conditions, meta.StalledCondition)
		require.NotNil(ct, stalled)
		assert.Equal(ct, render.ReasonInvalidName, stalled.Reason)
		assert.Contains(ct, stalled.Message, "Deployment stateless-lb-frontend-"+long)
		assert.Contains(ct, stalled.Message, "must be no more than 63 characters")
		require.NoError(ct, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "proxy-c9"}, &appsv1.DaemonSet{}))
		require.NoError(ct, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "meridio-configuration-t1"}, &corev1.ConfigMap{}))
	}, 30*time.Second, 100*time.Millisecond)
	var deps appsv1.DeploymentList
	require.NoError(t, c.List(ctx, &deps, client.InNamespace(ns)))
	assert.Empty(t, deps.Items, "nothing of the attractor was attempted")
}
