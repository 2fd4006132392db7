package admission

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meridio-operator/meridio-operator/internal/localapi"
	"github.com/meridio-operator/meridio-operator/internal/testutil"
)

// warningRecorder collects the admission warnings the API server returns.
type warningRecorder struct {
	mu       sync.Mutex
	warnings []string
}

func (w *warningRecorder) HandleWarningHeaderWithContext(_ context.Context, _ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.warnings = append(w.warnings, text)
}

func (w *warningRecorder) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.warnings
	w.warnings = nil
	return out
}

// Test_danglingReferencesWarn checks that references to missing resources and family
// mismatches are admitted with warnings naming the field (SPEC §0).
func Test_danglingReferencesWarn(t *testing.T) {
	ctx := context.Background()
	rec := &warningRecorder{}
	cfg := rest.CopyConfig(env.Config)
	cfg.WarningHandlerWithContext = rec
	c, err := client.New(cfg, client.Options{Scheme: localapi.Scheme()})
	require.NoError(t, err)
	ns := testutil.Namespace(t, c)

	create := func(doc string) []string {
		o := testutil.MustDecode(t, doc)
		o.SetNamespace(ns)
		require.NoError(t, c.Create(ctx, o))
		return rec.take()
	}
	assert.Empty(t, create(cr("Trench", "t", "", `{ip-family: ipv4}`)))
	assert.Equal(t, []string{`spec.conduit: Conduit "nowhere" not found in trench "t"`}, create(cr("Stream", "s", "t", `{conduit: nowhere}`)))
	assert.Equal(t, []string{
		`spec.stream: Stream "ghost" not found in trench "t"`,
		`spec.vips[0]: Vip "v" not found in trench "t"`,
		`spec.source-subnets[0]: "2001:db8::/32" is ipv6 but the trench is ipv4`,
	}, create(cr("Flow", "f", "t", `{stream: ghost, vips: [v], protocols: [tcp], priority: 1, source-subnets: ["2001:db8::/32"]}`)))
	assert.Equal(t, []string{`spec.address: "2001:db8::1/128" is ipv6 but the trench is ipv4`}, create(cr("Vip", "v", "t", `{address: "2001:db8::1/128"}`)))
	assert.Empty(t, create(cr("Conduit", "nowhere", "t", `{}`)))
}
