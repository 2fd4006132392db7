package v1alpha1

import "k8s.io/apimachinery/pkg/util/validation/field"

// Default sets what the CRD schema defaults.
func (t *Trench) Default() {
	if t.Spec.IPFamily == "" {
		t.Spec.IPFamily = Dualstack
	}
}

// Validate checks the trench's spec.
func (t *Trench) Validate(_ *Snapshot) field.ErrorList {
	path := specPath.Child("ip-family")
	switch t.Spec.IPFamily {
	case Dualstack, IPv4, IPv6:
		return nil
	case "":
		return field.ErrorList{field.Required(path, "must be dualstack, ipv4 or ipv6")}
	default:
		return field.ErrorList{field.NotSupported(path, t.Spec.IPFamily, []string{Dualstack, IPv4, IPv6})}
	}
}

// ValidateUpdate refuses a change of the IP family.
func (t *Trench) ValidateUpdate(old Object) field.ErrorList {
	return immutable(specPath.Child("ip-family"), old.(*Trench).Spec.IPFamily, t.Spec.IPFamily)
}

// Findings has nothing to report for a trench.
func (t *Trench) Findings(_ *Snapshot) []Finding { return nil }
