package offline

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/meridio-operator/meridio-operator/render"
)

// FuzzReadYAML feeds the offline reader hostile YAML (huge values, deep nesting, unicode and
// control characters in names, duplicate keys, wrong kinds, other API groups): it never panics,
// and what it accepts renders, twice the same.
func FuzzReadYAML(f *testing.F) {
	examples, _ := filepath.Glob(filepath.Join("..", "..", "examples", "*.yaml"))
	for _, e := range examples {
		data, err := os.ReadFile(e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	const trench = "apiVersion: meridio.nordix.org/v1alpha1\nkind: Trench\nmetadata: {name: t}\nspec: {ip-family: ipv4}\n"
	for _, s := range []string{
		trench,
		trench + "---\n" + trench,
		"apiVersion: meridio.nordix.org/v1alpha1\nkind: Trench\nmetadata: {name: t, name: u}\nspec: {}\n",
		"apiVersion: meridio.nordix.org/v1alpha1\nkind: Trench\nmetadata: {name: \"t\\u0000\\u202e\"}\n",
		"apiVersion: meridio.nordix.org/v1alpha1\nkind: Trénch\nmetadata: {name: t}\n",
		"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n",
		"apiVersion: meridio.nordix.org/v1alpha1\nkind: Flow\nmetadata: {name: f, labels: {trench: t}}\nspec: {vips: [v], protocols: [tcp], priority: 1, destination-ports: [\"1-65535\", any]}\n",
		"apiVersion: meridio.nordix.org/v1alpha1\nkind: Trench\nmetadata: {name: t}\nspec: " + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + "\n",
		"apiVersion: meridio.nordix.org/v1alpha1\nkind: Trench\nmetadata: {name: t, annotations: {a: " + strings.Repeat("x", 1<<10) + "}}\n",
		"- [a, b]\n- {c: d}\n",
		"%YAML 1.2\n---\n&a [*a]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// A hang is a finding too: the worker crashes, and the fuzzer keeps the input.
		watchdog := time.AfterFunc(10*time.Second, func() { panic(fmt.Sprintf("no answer in 10 s for %q", data)) })
		defer watchdog.Stop()
		res, errs := Decode("fuzz.yaml", bytes.NewReader(data))
		if len(errs) > 0 {
			return
		}
		snaps, errs := Snapshots(res, DefaultNamespace)
		if len(errs) > 0 || len(NameErrors(res, render.DefaultSettings())) > 0 {
			return
		}
		for _, s := range snaps {
			a, err := render.Render(s, render.DefaultSettings())
			if err != nil {
				t.Fatalf("an accepted trench does not render: %v", err)
			}
			b, err := render.Render(s, render.DefaultSettings())
			if err != nil {
				t.Fatal(err)
			}
			for i := range a.Items {
				x, _ := yaml.Marshal(a.Items[i].Object)
				y, _ := yaml.Marshal(b.Items[i].Object)
				if !bytes.Equal(x, y) {
					t.Fatalf("two renders differ in %s", a.Items[i].Object.GetName())
				}
			}
		}
	})
}

// TestReadYAML_huge: documents of megabytes (a 1 MiB annotation, a 10 MB value) are refused with
// the field that is too large or unknown, as the API server refuses them.
func TestReadYAML_huge(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"apiVersion: meridio.nordix.org/v1alpha1\nkind: Trench\nmetadata: {name: t, annotations: {a: " + strings.Repeat("x", 1<<20) + "}}\n",
			"metadata.annotations: Too long: may not be more than 262144 bytes"},
		{"apiVersion: meridio.nordix.org/v1alpha1\nkind: Vip\nmetadata: {name: v, labels: {trench: t}}\nspec: {address: 10.0.0.0/8, x: \"" + strings.Repeat("y", 10<<20) + "\"}\n",
			"spec.x: Invalid value: unknown field"},
		{"apiVersion: meridio.nordix.org/v1alpha1\nkind: Vip\nmetadata: {name: v, labels: {trench: t}}\nspec: {address: \"" + strings.Repeat("1", 10<<20) + "\"}\n",
			"spec.address: Too long"},
	} {
		_, errs := Decode("huge.yaml", strings.NewReader(tc.doc))
		if len(errs) == 0 || !strings.Contains(errs[0].Error(), tc.want) {
			t.Errorf("want an error with %q, got %.300v", tc.want, errs)
		}
	}
}
