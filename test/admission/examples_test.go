package admission

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/meridio-operator/meridio-operator/internal/localapi"
	"github.com/meridio-operator/meridio-operator/internal/testutil"
)

// Test_examplesAccepted applies every example with all webhooks on.
func Test_examplesAccepted(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(testutil.RepoRoot(), "examples", "*.yaml"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(files), 4)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			ns := testutil.Namespace(t, env.Client)
			require.NoError(t, localapi.ApplyFile(context.Background(), env.Client, f, ns))
		})
	}
}

// Test_examplesWithoutMutatingWebhook applies the examples that spell out every Gateway field:
// they must not depend on the mutating webhook.
func Test_examplesWithoutMutatingWebhook(t *testing.T) {
	for _, f := range []string{"trench-a.yaml", "ipv6-static-bfd.yaml"} {
		t.Run(f, func(t *testing.T) {
			ns := testutil.Namespace(t, plainEnv.Client)
			require.NoError(t, localapi.ApplyFile(context.Background(), plainEnv.Client, filepath.Join(testutil.RepoRoot(), "examples", f), ns))
		})
	}
}
