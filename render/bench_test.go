package render_test

import (
	"fmt"
	"testing"

	"k8s.io/utils/ptr"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/render"
)

// benchSnapshot is trench-a grown to 20 streams and 500 flows (the size issue 4 names).
func benchSnapshot(b *testing.B, name string) *meridiov1.Snapshot {
	s := loadExample(b, "trench-a.yaml")[0]
	s.Trench.Name = name
	s.Streams, s.Flows = nil, nil
	for i := range 20 {
		st := meridiov1.Stream{Spec: meridiov1.StreamSpec{Conduit: "conduit-stateless", MaxTargets: 100}}
		st.Name = fmt.Sprintf("stream-%02d", i)
		s.Streams = append(s.Streams, st)
	}
	for i := range 500 {
		f := meridiov1.Flow{Spec: meridiov1.FlowSpec{
			Stream: fmt.Sprintf("stream-%02d", i%20), Vips: []string{"vip1", "vip2"}, Priority: int32(i),
			SourceSubnets: []string{"10.0.0.0/8"}, DestinationPorts: []string{fmt.Sprint(1000 + i)}, SourcePorts: []string{"any"},
			Protocols: []meridiov1.TransportProtocol{meridiov1.TCP}, ByteMatches: []string{"tcp[13:1] & 0x02 = 0x02"},
		}}
		f.Name = fmt.Sprintf("flow-%03d", i)
		s.Flows = append(s.Flows, f)
	}
	s.Attractors[0].Spec.Replicas = ptr.To[int32](2)
	s.Sort()
	return s
}

// BenchmarkRender_trench renders one trench with 1 attractor, 2 gateways, 2 vips, 1 conduit,
// 20 streams and 500 flows.
func BenchmarkRender_trench(b *testing.B) {
	s := benchSnapshot(b, "bench")
	set := render.DefaultSettings()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := render.Render(s, set); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRender_100trenches renders 100 such trenches.
func BenchmarkRender_100trenches(b *testing.B) {
	snaps := make([]*meridiov1.Snapshot, 100)
	for i := range snaps {
		snaps[i] = benchSnapshot(b, fmt.Sprintf("bench-%03d", i))
	}
	set := render.DefaultSettings()
	b.ReportAllocs()
	for b.Loop() {
		for _, s := range snaps {
			if _, err := render.Render(s, set); err != nil {
				b.Fatal(err)
			}
		}
	}
}
