package cluster

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
)

// Test_memoForgetsDeletedResources: the memo of the operator's own writes holds what exists:
// after 1,000 resources are created and deleted, it is empty.
func Test_memoForgetsDeletedResources(t *testing.T) {
	ctx := context.Background()
	const trenches, flows = 50, 19 // 50 × (1 + 19) = 1,000 resources
	for i := range trenches {
		tr := fmt.Sprintf("mem%d", i)
		create(t, cr("Trench", tr, "", `{ip-family: ipv4}`))
		for j := range flows {
			create(t, cr("Flow", fmt.Sprintf("f%d-%s", j, tr), tr, fmt.Sprintf(`{vips: [v%d], protocols: [tcp], priority: 1, stream: s%d}`, j, j)))
		}
	}
	require.EventuallyWithT(t, func(col *assert.CollectT) {
		var list meridiov1.FlowList
		require.NoError(col, c.List(ctx, &list, client.InNamespace(ns)))
		n := 0
		for _, f := range list.Items {
			if f.Status.ObservedGeneration == f.Generation && len(f.Status.Conditions) > 0 {
				n++
			}
		}
		assert.GreaterOrEqual(col, n, trenches*flows, "every flow has a status")
	}, 2*time.Minute, 200*time.Millisecond, "the resources are reconciled")
	assert.Greater(t, remembered(t, "reconciler"), trenches*flows/2, "the memo holds the writes")
	assert.GreaterOrEqual(t, remembered(t, "sink"), trenches*5, "the memo holds the applies")

	for i := range trenches {
		tr := fmt.Sprintf("mem%d", i)
		require.NoError(t, c.DeleteAllOf(ctx, &meridiov1.Flow{}, client.InNamespace(ns), client.MatchingLabels{meridiov1.TrenchLabel: tr}))
		require.NoError(t, c.Delete(ctx, &meridiov1.Trench{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: tr}}))
	}
	require.EventuallyWithT(t, func(col *assert.CollectT) {
		assert.Zero(col, remembered(col, "reconciler"), "the reconciler's memo")
		assert.Zero(col, remembered(col, "sink"), "the sink's memo")
	}, time.Minute, 100*time.Millisecond)
}

// remembered is how many objects of this test's trenches (mem*) the memo of the given name
// holds, as the operator's metrics report it.
func remembered(t require.TestingT, memo string) int {
	return int(sumMetric(t, "meridio_operator_memo_objects", func(l map[string]string) bool {
		return l["memo"] == memo && l["namespace"] == ns && strings.HasPrefix(l["trench"], "mem")
	}))
}
