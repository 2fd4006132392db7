package admission

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

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

// Test_samplesAccepted applies config/samples one file at a time, in the order of its
// kustomization (the README's walkthrough), through the webhooks, and checks that together
// they are the reference trench of examples/trench-a.yaml.
func Test_samplesAccepted(t *testing.T) {
	dir := filepath.Join(testutil.RepoRoot(), "config", "samples")
	data, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	require.NoError(t, err)
	var k struct{ Resources []string }
	require.NoError(t, yaml.Unmarshal(data, &k))
	require.Len(t, k.Resources, 7, "one sample per kind")
	ns := testutil.Namespace(t, env.Client)
	var all []string
	for _, f := range k.Resources {
		assert.Regexp(t, `^meridio_v1alpha1_[a-z]+\.yaml$`, f, "the reference's file names")
		require.NoError(t, localapi.ApplyFile(context.Background(), env.Client, filepath.Join(dir, f), ns), f)
		data, err := os.ReadFile(filepath.Join(dir, f))
		require.NoError(t, err)
		all = append(all, string(data))
	}
	example, err := os.ReadFile(filepath.Join(testutil.RepoRoot(), "examples", "trench-a.yaml"))
	require.NoError(t, err)
	kinds := func(s string) []string { return regexp.MustCompile(`(?m)^kind: \w+$`).FindAllString(s, -1) }
	assert.ElementsMatch(t, kinds(string(example)), kinds(strings.Join(all, "\n")), "the samples are the example trench, split by kind")
}
