package v1alpha1

import "k8s.io/apimachinery/pkg/util/validation/field"

// Default does nothing: a Vip has no defaults.
func (v *Vip) Default() {}

// Validate checks that the address is a prefix.
func (v *Vip) Validate(_ *Snapshot) field.ErrorList {
	return append(validateTrenchLabel(v), validatePrefix(v.Spec.Address, specPath.Child("address"))...)
}

// ValidateUpdate allows every change but the trench label.
func (v *Vip) ValidateUpdate(_ Object) field.ErrorList { return nil }

// Findings reports an address whose family does not fit the trench.
func (v *Vip) Findings(s *Snapshot) []Finding {
	return warnFamily(s, specPath.Child("address"), v.Spec.Address)
}
