package crdschema

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func obj(kind string, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{}}
	if spec != nil {
		u.Object["spec"] = spec
	}
	u.SetAPIVersion("meridio.nordix.org/v1alpha1")
	u.SetKind(kind)
	u.SetName("x")
	u.SetNamespace("default")
	return u
}

func TestKinds(t *testing.T) {
	assert.Equal(t, []string{"Attractor", "Conduit", "Flow", "Gateway", "Stream", "Trench", "Vip"}, Kinds())
}

// TestAdmit: the schema's defaults are applied, and each kind of rule (enum, bound, CEL rule,
// unknown field, metadata name) refuses with the field's path.
func TestAdmit(t *testing.T) {
	ctx := context.Background()
	s := obj("Stream", map[string]any{"conduit": "c"})
	require.Empty(t, Admit(ctx, s, nil))
	assert.Equal(t, int64(100), s.Object["spec"].(map[string]any)["max-targets"], "the CRD's default")

	for _, tc := range []struct {
		name string
		u    *unstructured.Unstructured
		want string
	}{
		{"enum", obj("Trench", map[string]any{"ip-family": "ipv5"}), `spec.ip-family: Unsupported value: "ipv5"`},
		{"minimum", obj("Stream", map[string]any{"max-targets": int64(0)}), "spec.max-targets: Invalid value: 0"},
		{"CEL rule", obj("Vip", map[string]any{"address": "10.0.0.1/24"}), "spec.address: Invalid value: \"10.0.0.1/24\": host bits set: write the network address of the prefix, as in 10.0.0.0/24 for 10.0.0.1/24"},
		{"unknown field", obj("Conduit", map[string]any{"colour": "red"}), "spec.colour: Invalid value: unknown field"},
		{"name", func() *unstructured.Unstructured { u := obj("Trench", nil); u.SetName("Bad_Name"); return u }(), `metadata.name: Invalid value: "Bad_Name"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := Admit(ctx, tc.u, nil)
			require.NotEmpty(t, errs)
			assert.Contains(t, errs.ToAggregate().Error(), tc.want)
		})
	}
	errs := Admit(ctx, obj("Sandwich", nil), nil)
	require.Len(t, errs, 1)
	assert.Equal(t, "kind", errs[0].Field)
}
