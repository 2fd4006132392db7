package render_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/internal/offline"
	"github.com/meridio-operator/meridio-operator/render"
)

// FuzzRender renders random trenches that admission accepts (names, families, addresses, ports,
// subnets, byte matches and the name prefix come from the fuzzer): the render never fails or
// panics, is the same twice, and every object it keeps has names and label values the API
// server accepts.
func FuzzRender(f *testing.F) {
	f.Add("t", "ipv4", "a", "c", "20.0.0.1/32", "80,8080-8090", "10.0.0.0/8", "tcp[2:2] = 80", "", uint8(3))
	f.Add("trench-b", "dualstack", "attr", "lb", "2001:db8::/64", "any", "::/0", "", "x-", uint8(1))
	f.Add("a.b", "ipv6", "FE_blue", "c", "20.0.0.1/24", "0-65535", "1.2.3.4/32", "udp[0:1] & 0x0f = 1", "p", uint8(200))
	f.Fuzz(func(t *testing.T, trench, family, attractor, conduit, vip, ports, subnet, match, prefix string, flows uint8) {
		s, set, ok := admittedTrench(trench, family, attractor, conduit, vip, ports, subnet, match, prefix, flows)
		if !ok {
			return
		}
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

// TestFuzzRenderSeeds: the fuzzer's first seeds are trenches admission accepts, so that it
// starts from inputs that reach the render.
func TestFuzzRenderSeeds(t *testing.T) {
	if _, _, ok := admittedTrench("t", "ipv4", "a", "c", "20.0.0.1/32", "80,8080-8090", "10.0.0.0/8", "tcp[2:2] = 80", "", 3); !ok {
		t.Error("seed 0 is refused")
	}
	if _, _, ok := admittedTrench("trench-b", "dualstack", "attr", "lb", "2001:db8::/64", "any", "::/0", "", "x-", 1); !ok {
		t.Error("seed 1 is refused")
	}
}

// admittedTrench builds a trench of the fuzzer's values, as offline render reads it; ok is false
// when admission refuses it.
func admittedTrench(trench, family, attractor, conduit, vip, ports, subnet, match, prefix string, flows uint8) (*meridiov1.Snapshot, render.Settings, bool) {
	q := func(s string) string { return fmt.Sprintf("%q", s) }
	list := func(s string) string {
		var out []string
		for _, p := range strings.Split(s, ",") {
			out = append(out, q(p))
		}
		return "[" + strings.Join(out, ", ") + "]"
	}
	docs := []string{
		fmt.Sprintf("kind: Trench\nmetadata: {name: %s}\nspec: {ip-family: %s}", q(trench), q(family)),
		fmt.Sprintf("kind: Conduit\nmetadata: {name: %s, labels: {trench: %s}}\nspec: {}", q(conduit), q(trench)),
		fmt.Sprintf("kind: Vip\nmetadata: {name: v, labels: {trench: %s}}\nspec: {address: %s}", q(trench), q(vip)),
		fmt.Sprintf("kind: Attractor\nmetadata: {name: %s, labels: {trench: %s}}\nspec: {composites: [%s], vips: [v], interface: {name: e, ipv4-prefix: 169.254.1.0/24, ipv6-prefix: \"100::/64\", nsm-vlan: {vlan-id: 10, base-interface: eth0}}}",
			q(attractor), q(trench), q(conduit)),
		fmt.Sprintf("kind: Stream\nmetadata: {name: s, labels: {trench: %s}}\nspec: {conduit: %s}", q(trench), q(conduit)),
	}
	for i := range int(flows % 20) {
		m := ""
		if match != "" {
			m = ", byte-matches: " + list(match)
		}
		docs = append(docs, fmt.Sprintf("kind: Flow\nmetadata: {name: f%d, labels: {trench: %s}}\nspec: {stream: s, vips: [v], protocols: [tcp], priority: %d, destination-ports: %s, source-subnets: [%s]%s}",
			i, q(trench), i, list(ports), q(subnet), m))
	}
	for i := range docs {
		docs[i] = "apiVersion: meridio.nordix.org/v1alpha1\n" + docs[i] + "\n"
	}
	res, errs := offline.Decode("fuzz.yaml", strings.NewReader(strings.Join(docs, "---\n")))
	if len(errs) > 0 {
		return nil, render.Settings{}, false
	}
	set := render.DefaultSettings()
	set.NamePrefix = prefix
	snaps, errs := offline.Snapshots(res, offline.DefaultNamespace)
	if len(errs) > 0 || len(offline.NameErrors(res, set)) > 0 || len(snaps) != 1 {
		return nil, render.Settings{}, false
	}
	return snaps[0], set, true
}
