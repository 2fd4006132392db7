package v1alpha1

import (
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Default does nothing: a Flow has no defaults.
func (f *Flow) Default() {}

// Validate checks subnets, ports, protocols, priority and byte matches, and that no vip is shared
// with a flow of another conduit.
func (f *Flow) Validate(s *Snapshot) field.ErrorList {
	errs := validateTrenchLabel(f)
	errs = append(errs, validateSubnetList(f.Spec.SourceSubnets, specPath.Child("source-subnets"))...)
	errs = append(errs, validatePortList(f.Spec.SourcePorts, specPath.Child("source-ports"))...)
	errs = append(errs, validatePortList(f.Spec.DestinationPorts, specPath.Child("destination-ports"))...)
	protocols := specPath.Child("protocols")
	for i, p := range f.Spec.Protocols {
		errs = append(errs, validateProtocol(protocols.Index(i), p)...)
		if slices.Contains(f.Spec.Protocols[:i], p) {
			errs = append(errs, field.Duplicate(protocols.Index(i), p))
		}
	}
	if f.Spec.Priority < 0 {
		errs = append(errs, field.Invalid(specPath.Child("priority"), f.Spec.Priority, "must not be negative"))
	}
	errs = append(errs, validateByteMatches(f.Spec.ByteMatches, specPath.Child("byte-matches"))...)
	if s != nil {
		errs = append(errs, f.validateVipSharing(s)...)
	}
	return errs
}

// validateVipSharing applies the reference's rule: a vip may be shared only with flows whose
// stream exists and belongs to the same conduit as this flow's stream.
func (f *Flow) validateVipSharing(s *Snapshot) field.ErrorList {
	conduit := ""
	if st := s.Stream(f.Spec.Stream); st != nil {
		conduit = st.Spec.Conduit
	}
	var errs field.ErrorList
	for i := range s.Flows {
		other := &s.Flows[i]
		if sameObject(f, other) {
			continue
		}
		if st := s.Stream(other.Spec.Stream); st != nil && st.Spec.Conduit == conduit {
			continue
		}
		for k, v := range f.Spec.Vips {
			if slices.Contains(other.Spec.Vips, v) {
				errs = append(errs, field.Invalid(specPath.Child("vips").Index(k), v,
					fmt.Sprintf("a vip cannot be shared between 2 conduits in this version (flow %q uses it)", other.Name)))
			}
		}
	}
	return errs
}

// ValidateUpdate allows every change but the trench label.
func (f *Flow) ValidateUpdate(_ Object) field.ErrorList { return nil }

// Findings reports a stream or vips that do not exist and source subnets of the wrong family.
func (f *Flow) Findings(s *Snapshot) []Finding {
	var w []Finding
	trench := f.Labels[TrenchLabel]
	if f.Spec.Stream != "" && s.Stream(f.Spec.Stream) == nil {
		w = append(w, missing(specPath.Child("stream"), "Stream", f.Spec.Stream, trench))
	}
	for i, v := range f.Spec.Vips {
		if s.Vip(v) == nil {
			w = append(w, missing(specPath.Child("vips").Index(i), "Vip", v, trench))
		}
	}
	for i, sub := range f.Spec.SourceSubnets {
		w = append(w, warnFamily(s, specPath.Child("source-subnets").Index(i), sub)...)
	}
	return w
}
