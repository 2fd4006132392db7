package render

import (
	"fmt"
	"testing"

	yaml "sigs.k8s.io/yaml/goyaml.v2"
)

// benchFlows are 500 flows as the configuration lists them.
func benchFlows() []cfgFlow {
	flows := make([]cfgFlow, 500)
	for i := range flows {
		flows[i] = cfgFlow{
			Name: fmt.Sprintf("flow-%03d", i), SourceSubnets: []string{"10.0.0.0/8"}, DestinationPortRanges: []string{fmt.Sprint(1000 + i)},
			SourcePortRanges: []string{"0-65535"}, Protocols: []string{"tcp"}, Vips: []string{"vip1", "vip2"}, Priority: int32(i),
			Stream: fmt.Sprintf("stream-%02d", i%20), ByteMatches: []string{"tcp[13:1] & 0x02 = 0x02"},
		}
	}
	return flows
}

// BenchmarkFlowsYAML writes the flows key of a 500-flow trench: with this package's writer, and
// with yaml.v2 as the reference operator does (the baseline, same bytes).
func BenchmarkFlowsYAML(b *testing.B) {
	flows := benchFlows()
	b.Run("writer", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = writeItems(&yamlWriter{}, flows, (*cfgFlow).write)
		}
	})
	b.Run("baseline-yaml.v2", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := yaml.Marshal(cfgItems[cfgFlow]{Items: flows}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
