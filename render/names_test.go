package render_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/render"
)

// Test_nameErrors: a Trench, Attractor or Conduit whose rendered objects would get names or
// label values the API server refuses is refused, naming the rendered object and the limit;
// names within the limits pass, with and without a name prefix.
func Test_nameErrors(t *testing.T) {
	s := loadExample(t, "trench-a.yaml")[0]
	long := func(n int) string { return strings.Repeat("a", n) }
	attractor := func(name string) meridiov1.Object {
		a := s.Attractors[0].DeepCopy()
		a.Name = name
		return a
	}
	conduit := func(name string) meridiov1.Object {
		c := s.Conduits[0].DeepCopy()
		c.Name = name
		return c
	}
	trench := func(name string) meridiov1.Object {
		tr := s.Trench.DeepCopy()
		tr.Name = name
		return tr
	}
	cases := []struct {
		name   string
		obj    meridiov1.Object
		prefix string
		// want is empty for a valid name, else what the message must hold.
		want []string
	}{
		{name: "attractor, usual name", obj: attractor("attr1")},
		{name: "attractor at the limit", obj: attractor(long(63 - len("stateless-lb-frontend-")))},
		{name: "attractor one over", obj: attractor(long(64 - len("stateless-lb-frontend-"))),
			want: []string{"Deployment stateless-lb-frontend-" + long(42), "must be no more than 63 characters"}},
		{name: "attractor of 50 characters", obj: attractor(long(50)), want: []string{"Deployment stateless-lb-frontend-", "app="}},
		{name: "attractor over the limit with a prefix", obj: attractor(long(41)), prefix: "x-", want: []string{"Deployment x-stateless-lb-frontend-"}},
		{name: "attractor with a dot", obj: attractor("fe.blue"), want: []string{"Deployment nse-vlan-fe.blue: name: must not contain dots"}},
		{name: "conduit, usual name", obj: conduit("load-balancer")},
		{name: "conduit over the limit", obj: conduit(long(58)), want: []string{"DaemonSet proxy-" + long(58), "must be no more than 63 characters"}},
		{name: "trench, usual name", obj: trench("trench-a")},
		{name: "trench at the limit", obj: trench(long(statefulSetNameLimit - len("ipam-")))},
		{name: "trench one over: no room for the StatefulSet's revision label", obj: trench(long(statefulSetNameLimit - len("ipam-") + 1)),
			want: []string{"StatefulSet ipam-", "must be no more than 52 characters, to leave room for the controller-revision-hash label"}},
		{name: "trench with a dot", obj: trench("a.b"), want: []string{"Service ipam-service-a.b: name"}},
		{name: "trench starting with a digit gets a valid Service name", obj: trench("1a")},
		{name: "flows render no objects of their own", obj: &s.Flows[0]},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			set := render.DefaultSettings()
			set.NamePrefix = tc.prefix
			errs := render.NameErrors(tc.obj, set)
			if len(tc.want) == 0 {
				assert.Empty(t, errs)
				return
			}
			require.NotEmpty(t, errs)
			assert.Equal(t, "metadata.name", errs[0].Field)
			for _, w := range tc.want {
				assert.Contains(t, errs.ToAggregate().Error(), w)
			}
		})
	}
}

// statefulSetNameLimit is the longest StatefulSet name whose pods' controller-revision-hash
// label (name, "-", a hash of up to 10 characters) is a valid label value.
const statefulSetNameLimit = validation.LabelValueMaxLength - 11

// Test_invalidNameStalls: a resource with an invalid rendered name that got in anyway (webhooks
// off) is reported as InvalidName and its objects are left out; the rest of the trench renders.
func Test_invalidNameStalls(t *testing.T) {
	s := loadExample(t, "trench-a.yaml")[0]
	s.Attractors[0].Name = strings.Repeat("b", 50)
	res, err := render.Render(s, render.DefaultSettings())
	require.NoError(t, err)
	require.Len(t, res.Problems, 1)
	p := res.Problems[0]
	assert.Equal(t, render.Owner{Kind: "Attractor", Name: s.Attractors[0].Name}, p.Owner)
	assert.Equal(t, render.ReasonInvalidName, p.Reason)
	assert.Contains(t, p.Message, "Deployment stateless-lb-frontend-"+s.Attractors[0].Name)
	for _, it := range res.Items {
		assert.NotEqual(t, "Attractor", it.Owner.Kind, it.Object.GetName())
	}
	assert.Contains(t, byName(res), "DaemonSet/proxy-conduit-stateless")
	assert.Contains(t, byName(res), "ConfigMap/meridio-configuration-trench-a")
	assert.NotNil(t, res.Configuration)

	s.Trench.Name = strings.Repeat("t", 60)
	res, err = render.Render(s, render.DefaultSettings())
	require.NoError(t, err)
	assert.Nil(t, res.Configuration, "the trench's own objects cannot be rendered")
	assert.Empty(t, res.Items)
	var reasons []string
	for _, p := range res.Problems {
		if p.Owner.Kind == "Trench" {
			reasons = append(reasons, p.Reason)
			assert.Contains(t, p.Message, "StatefulSet ipam-"+s.Trench.Name)
		}
	}
	assert.Equal(t, []string{render.ReasonInvalidName}, reasons)
}

// bigFlows returns n flows of the trench whose byte-matches make about size bytes each in the
// ConfigMap.
func bigFlows(trench string, n, size int) []meridiov1.Flow {
	var out []meridiov1.Flow
	for i := range n {
		f := meridiov1.Flow{}
		f.Name, f.Namespace = fmt.Sprintf("big-%d", i), "default"
		f.Labels = map[string]string{meridiov1.TrenchLabel: trench}
		f.Spec.Stream, f.Spec.Vips, f.Spec.Protocols = "stream-1", []string{"vip1"}, []meridiov1.TransportProtocol{"tcp"}
		for j := 0; j < size/24; j++ {
			f.Spec.ByteMatches = append(f.Spec.ByteMatches, fmt.Sprintf("tcp[0:2] = %d", j))
		}
		out = append(out, f)
	}
	return out
}

// Test_configurationTooLarge: a trench whose ConfigMap would exceed the API server's limit is
// reported once, on the trench, and is not delivered at all; a resource that would push it over
// the limit is refused with the size and the limit.
func Test_configurationTooLarge(t *testing.T) {
	s := loadExample(t, "trench-a.yaml")[0]
	set := render.DefaultSettings()
	big := bigFlows(s.Trench.Name, 2, 700_000)
	assert.Empty(t, render.ConfigurationErrors(&big[0], s, set), "one flow fits")
	s.Flows = append(s.Flows, big[0])
	s.Sort()
	errs := render.ConfigurationErrors(&big[1], s, set)
	require.Len(t, errs, 1)
	assert.Contains(t, errs[0].Error(), "spec: Invalid value: the trench's configuration ConfigMap meridio-configuration-trench-a would hold")
	assert.Contains(t, errs[0].Error(), "over the API server's limit of 1048576 bytes")

	res, err := render.Render(s, set)
	require.NoError(t, err)
	assert.Nil(t, res.Undeliverable())
	s.Flows = append(s.Flows, big[1])
	s.Sort()
	res, err = render.Render(s, set)
	require.NoError(t, err)
	p := res.Undeliverable()
	require.NotNil(t, p)
	assert.Equal(t, render.Owner{Kind: "Trench", Name: "trench-a"}, p.Owner)
	assert.Equal(t, render.ReasonConfigurationTooLarge, p.Reason)
	assert.Greater(t, render.ConfigMapSize(res.Configuration.(*corev1.ConfigMap)), render.MaxConfigMapSize)
}
