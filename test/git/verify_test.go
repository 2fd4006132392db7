package git

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meridio-operator/meridio-operator/gitsink"
	"github.com/meridio-operator/meridio-operator/internal/testutil"
)

// Test_gitMode_verifyBeforeCommit: a render the API server would refuse (here an admission
// policy refuses the load-balancer Deployments) is never committed: the Trench is DryRunFailed
// naming the object, with a Warning event; once the policy is gone, it is committed.
func Test_gitMode_verifyBeforeCommit(t *testing.T) {
	ctx := context.Background()
	ns := testutil.Namespace(t, c)
	policy := testutil.MustDecode(t, `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: no-lb-`+ns+`}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - {apiGroups: [apps], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [deployments]}
  validations:
  - expression: "!object.metadata.name.startsWith('stateless-lb-frontend-')"
    message: load balancers are not allowed here`)
	binding := testutil.MustDecode(t, fmt.Sprintf(`apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: no-lb-%[1]s}
spec:
  policyName: no-lb-%[1]s
  validationActions: [Deny]
  matchResources:
    namespaceSelector:
      matchLabels: {kubernetes.io/metadata.name: %[1]s}`, ns))
	require.NoError(t, c.Create(ctx, policy))
	require.NoError(t, c.Create(ctx, binding))
	t.Cleanup(func() { _ = c.Delete(ctx, policy) })
	// A policy takes effect a moment after it is created.
	probe := testutil.MustDecode(t, `apiVersion: apps/v1
kind: Deployment
metadata: {name: stateless-lb-frontend-probe, namespace: `+ns+`}
spec:
  selector: {matchLabels: {app: p}}
  template:
    metadata: {labels: {app: p}}
    spec: {containers: [{name: c, image: x}]}`)
	require.Eventually(t, func() bool {
		return apierrors.IsInvalid(c.Create(ctx, probe.DeepCopy(), client.DryRunAll)) || apierrors.IsForbidden(c.Create(ctx, probe.DeepCopy(), client.DryRunAll))
	}, timeout, tick, "the policy is enforced")

	url, bare := bareRemote(t)
	startOperator(t, ns, url, filepath.Join(t.TempDir(), "clone"), gitsink.WithVerify(c, gitsink.DefaultVerifyFieldManager))
	create(t, testutil.TrenchSet(ns, "v1")...)
	require.EventuallyWithT(t, func(col *assert.CollectT) {
		r := ready(trench(col, ns, "v1"))
		require.NotNil(col, r)
		assert.Equal(col, "DryRunFailed", r.Reason, r.Message)
		assert.Contains(col, r.Message, "Deployment/stateless-lb-frontend-a-v1")
		assert.Contains(col, r.Message, "load balancers are not allowed here")
		assert.True(col, hasWarning(col, ns, "DryRunFailed"), "a Warning event")
	}, timeout, tick)
	assert.Empty(t, testutil.GitOutput(bare, "rev-list", "--all"), "nothing committed")

	require.NoError(t, c.Delete(ctx, binding))
	require.EventuallyWithT(t, func(col *assert.CollectT) {
		tr := trench(col, ns, "v1")
		assert.Equal(col, "main@sha1:"+testutil.GitOutput(bare, "rev-parse", "main"), tr.Status.Revision)
	}, 2*timeout, tick)
}
