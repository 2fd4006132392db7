package v1alpha1

import "k8s.io/apimachinery/pkg/util/validation/field"

// Stream target limits.
const (
	DefaultMaxTargets uint32 = 100
	maxMaxTargets     uint32 = 10000
)

// Default sets what the CRD schema defaults.
func (s *Stream) Default() {
	if s.Spec.MaxTargets == 0 {
		s.Spec.MaxTargets = DefaultMaxTargets
	}
}

// Validate checks the target limit.
func (s *Stream) Validate(_ *Snapshot) field.ErrorList {
	errs := validateTrenchLabel(s)
	if s.Spec.MaxTargets < 1 || s.Spec.MaxTargets > maxMaxTargets {
		errs = append(errs, field.Invalid(specPath.Child("max-targets"), s.Spec.MaxTargets, "must be between 1 and 10000"))
	}
	return errs
}

// ValidateUpdate refuses a change of the target limit.
func (s *Stream) ValidateUpdate(old Object) field.ErrorList {
	return immutable(specPath.Child("max-targets"), old.(*Stream).Spec.MaxTargets, s.Spec.MaxTargets)
}

// Findings reports a conduit that does not exist.
func (s *Stream) Findings(snap *Snapshot) []Finding {
	if s.Spec.Conduit != "" && snap.Conduit(s.Spec.Conduit) == nil {
		return []Finding{missing(specPath.Child("conduit"), "Conduit", s.Spec.Conduit, s.Labels[TrenchLabel])}
	}
	return nil
}
