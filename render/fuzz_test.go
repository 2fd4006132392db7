package render_test

import (
	"bytes"
	"testing"

	"sigs.k8s.io/yaml"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/internal/fuzzinput"
	"github.com/meridio-operator/meridio-operator/render"
)

// FuzzRender renders random trenches that admission accepts (names, families, addresses, ports,
// subnets, byte matches and the name prefix come from the fuzzer): the render never fails or
// panics, is the same twice, and every object it keeps has names and label values the API
// server accepts.
func FuzzRender(f *testing.F) {
	fuzzinput.Fuzz(f, func(t *testing.T, s *meridiov1.Snapshot, set render.Settings) {
		a, err := render.Render(s, set)
		if err != nil {
			t.Fatalf("an admitted trench does not render: %v", err)
		}
		b, err := render.Render(s, set)
		if err != nil {
			t.Fatal(err)
		}
		if len(a.Items) != len(b.Items) {
			t.Fatal("two renders differ")
		}
		for i, it := range a.Items {
			x, _ := yaml.Marshal(it.Object)
			y, _ := yaml.Marshal(b.Items[i].Object)
			if !bytes.Equal(x, y) {
				t.Fatalf("two renders of %s differ", it.Object.GetName())
			}
		}
		for _, p := range a.Problems {
			if p.Reason == render.ReasonInvalidName {
				t.Fatalf("admitted, yet cannot render: %s", p.Message)
			}
		}
	})
}

// TestFuzzRenderSeeds: the first two seeds are trenches admission accepts, the third one it
// refuses.
func TestFuzzRenderSeeds(t *testing.T) {
	for i, seed := range fuzzinput.Seeds() {
		if _, _, ok := seed.Admitted(); ok != (i < 2) {
			t.Errorf("seed %d: admitted %v", i, ok)
		}
	}
}
