package v1alpha1

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// Default sets what the CRD schema defaults.
func (a *Attractor) Default() {
	if a.Spec.Replicas == nil {
		a.Spec.Replicas = ptr.To[int32](1)
	}
	if a.Spec.Interface.Type == "" {
		a.Spec.Interface.Type = InterfaceTypeNSMVlan
	}
}

// Validate checks the attractor's spec and that no other attractor of its trench uses its
// composite or its vips.
func (a *Attractor) Validate(s *Snapshot) field.ErrorList {
	errs := validateTrenchLabel(a)
	spec := specPath
	switch n := len(a.Spec.Composites); {
	case n == 0:
		errs = append(errs, field.Required(spec.Child("composites"), "must name the conduit of the attractor"))
	case n > 1:
		errs = append(errs, field.TooMany(spec.Child("composites"), n, 1))
	}
	if a.Spec.Replicas != nil && *a.Spec.Replicas < 0 {
		errs = append(errs, field.Invalid(spec.Child("replicas"), *a.Spec.Replicas, "must not be negative"))
	}
	iface := spec.Child("interface")
	errs = append(errs, validatePrefix(a.Spec.Interface.IPv4Prefix, iface.Child("ipv4-prefix"))...)
	errs = append(errs, validatePrefix(a.Spec.Interface.IPv6Prefix, iface.Child("ipv6-prefix"))...)
	if a.Spec.Interface.Type != InterfaceTypeNSMVlan {
		errs = append(errs, field.NotSupported(iface.Child("type"), a.Spec.Interface.Type, []string{InterfaceTypeNSMVlan}))
	} else {
		vlan := iface.Child("nsm-vlan")
		if a.Spec.Interface.NSMVlan.BaseInterface == "" {
			errs = append(errs, field.Required(vlan.Child("base-interface"), "must name the node interface of the VLAN"))
		}
		if a.Spec.Interface.NSMVlan.VlanID == nil {
			errs = append(errs, field.Required(vlan.Child("vlan-id"), "must be set (0 for untagged)"))
		}
	}
	if s == nil {
		return errs
	}
	for i := range s.Attractors {
		other := &s.Attractors[i]
		if sameObject(a, other) {
			continue
		}
		errs = append(errs, sharedNames(spec.Child("composites"), a.Spec.Composites, other.Spec.Composites, "composite", other.Name)...)
		errs = append(errs, sharedNames(spec.Child("vips"), a.Spec.Vips, other.Spec.Vips, "vip", other.Name)...)
	}
	return errs
}

// sharedNames reports every name of mine that theirs lists too.
func sharedNames(path *field.Path, mine, theirs []string, what, owner string) field.ErrorList {
	var errs field.ErrorList
	for i, name := range mine {
		for _, t := range theirs {
			if name == t {
				errs = append(errs, field.Invalid(path.Index(i), name,
					fmt.Sprintf("%s is already used by attractor %q of the same trench", what, owner)))
				break
			}
		}
	}
	return errs
}

// ValidateUpdate refuses changes of the interface prefixes, type and VLAN.
func (a *Attractor) ValidateUpdate(old Object) field.ErrorList {
	o := old.(*Attractor).Spec.Interface
	n := a.Spec.Interface
	iface := specPath.Child("interface")
	errs := immutable(iface.Child("ipv4-prefix"), o.IPv4Prefix, n.IPv4Prefix)
	errs = append(errs, immutable(iface.Child("ipv6-prefix"), o.IPv6Prefix, n.IPv6Prefix)...)
	errs = append(errs, immutable(iface.Child("type"), strings.ToLower(o.Type), n.Type)...)
	errs = append(errs, immutable(iface.Child("nsm-vlan", "base-interface"), o.NSMVlan.BaseInterface, n.NSMVlan.BaseInterface)...)
	errs = append(errs, immutable(iface.Child("nsm-vlan", "vlan-id"), o.NSMVlan.VlanID, n.NSMVlan.VlanID)...)
	return errs
}

// Findings reports references to conduits, gateways and vips that do not exist, and prefixes
// of the wrong family.
func (a *Attractor) Findings(s *Snapshot) []Finding {
	var w []Finding
	trench := a.Labels[TrenchLabel]
	for i, c := range a.Spec.Composites {
		if s.Conduit(c) == nil {
			w = append(w, missing(specPath.Child("composites").Index(i), "Conduit", c, trench))
		}
	}
	for i, g := range a.Spec.Gateways {
		if s.Gateway(g) == nil {
			w = append(w, missing(specPath.Child("gateways").Index(i), "Gateway", g, trench))
		}
	}
	for i, v := range a.Spec.Vips {
		if s.Vip(v) == nil {
			w = append(w, missing(specPath.Child("vips").Index(i), "Vip", v, trench))
		}
	}
	iface := specPath.Child("interface")
	if f := ipFamilyOf(a.Spec.Interface.IPv4Prefix); f == IPv6 {
		w = append(w, Finding{Reason: IPFamilyMismatchReason, Message: fmt.Sprintf("%s: %q is an IPv6 prefix", iface.Child("ipv4-prefix"), a.Spec.Interface.IPv4Prefix)})
	}
	if f := ipFamilyOf(a.Spec.Interface.IPv6Prefix); f == IPv4 {
		w = append(w, Finding{Reason: IPFamilyMismatchReason, Message: fmt.Sprintf("%s: %q is an IPv4 prefix", iface.Child("ipv6-prefix"), a.Spec.Interface.IPv6Prefix)})
	}
	return w
}
