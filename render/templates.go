package render

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Container names that resource templates apply to.
const (
	containerNSP         = "nsp"
	containerIPAM        = "ipam"
	containerNSEVlan     = "nse-vlan"
	containerStatelessLB = "stateless-lb"
	containerNSC         = "nsc"
	containerFrontend    = "frontend"
	containerProxy       = "proxy"
)

// builtinTemplates are the small, medium and large templates the reference operator ships:
// requests cpu/memory, then limits cpu/memory.
func builtinTemplates() map[string]map[string]corev1.ResourceRequirements {
	table := map[string][3][4]string{
		containerStatelessLB: {{"150m", "20Mi", "200m", "40Mi"}, {"300m", "60Mi", "400m", "120Mi"}, {"1", "100Mi", "4", "300Mi"}},
		containerFrontend:    {{"150m", "20Mi", "200m", "40Mi"}, {"300m", "60Mi", "400m", "120Mi"}, {"500m", "80Mi", "2", "250Mi"}},
		containerNSC:         {{"100m", "20Mi", "150m", "40Mi"}, {"200m", "40Mi", "250m", "80Mi"}, {"200m", "80Mi", "300m", "120Mi"}},
		containerNSEVlan:     {{"100m", "20Mi", "150m", "40Mi"}, {"150m", "40Mi", "200m", "120Mi"}, {"200m", "80Mi", "300m", "200Mi"}},
		containerProxy:       {{"100m", "20Mi", "150m", "40Mi"}, {"200m", "40Mi", "400m", "120Mi"}, {"500m", "80Mi", "2", "200Mi"}},
		containerNSP:         {{"100m", "20Mi", "200m", "40Mi"}, {"150m", "40Mi", "250m", "120Mi"}, {"200m", "80Mi", "500m", "250Mi"}},
		containerIPAM:        {{"100m", "20Mi", "200m", "40Mi"}, {"150m", "40Mi", "250m", "80Mi"}, {"200m", "60Mi", "500m", "200Mi"}},
	}
	out := map[string]map[string]corev1.ResourceRequirements{}
	for container, sizes := range table {
		out[container] = map[string]corev1.ResourceRequirements{}
		for i, name := range []string{"small", "medium", "large"} {
			v := sizes[i]
			out[container][name] = corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(v[0]), corev1.ResourceMemory: resource.MustParse(v[1])},
				Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(v[2]), corev1.ResourceMemory: resource.MustParse(v[3])},
			}
		}
	}
	return out
}
