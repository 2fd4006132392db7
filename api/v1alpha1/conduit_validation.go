package v1alpha1

import (
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Default sets what the CRD schema defaults.
func (c *Conduit) Default() {
	if c.Spec.Type == "" {
		c.Spec.Type = ConduitTypeStatelessLB
	}
}

// Validate checks the type and that no two port NATs must be merged or collide.
func (c *Conduit) Validate(_ *Snapshot) field.ErrorList {
	errs := validateTrenchLabel(c)
	if c.Spec.Type != ConduitTypeStatelessLB {
		errs = append(errs, field.NotSupported(specPath.Child("type"), c.Spec.Type, []string{ConduitTypeStatelessLB}))
	}
	nats := c.Spec.DestinationPortNats
	path := specPath.Child("destination-port-nats")
	for i, n := range nats {
		errs = append(errs, validateProtocol(path.Index(i).Child("protocol"), n.Protocol)...)
		for k, v := range n.Vips {
			if slices.Contains(n.Vips[:k], v) {
				errs = append(errs, field.Invalid(path.Index(i).Child("vips").Index(k), v,
					fmt.Sprintf("%s and %s are colliding: vip listed twice", path.Index(i), path.Index(i))))
			}
		}
		for j := 0; j < i; j++ {
			m := nats[j]
			switch {
			case m.Port == n.Port && m.TargetPort == n.TargetPort && m.Protocol == n.Protocol:
				errs = append(errs, field.Invalid(path.Index(i), fmt.Sprintf("%d->%d/%s", n.Port, n.TargetPort, n.Protocol),
					fmt.Sprintf("%s and %s must be merged", path.Index(j), path.Index(i))))
			case m.Protocol == n.Protocol && sharesAny(m.Vips, n.Vips) &&
				(m.Port == n.Port || m.Port == n.TargetPort || m.TargetPort == n.Port || m.TargetPort == n.TargetPort):
				errs = append(errs, field.Invalid(path.Index(i), fmt.Sprintf("%d->%d/%s", n.Port, n.TargetPort, n.Protocol),
					fmt.Sprintf("%s and %s are colliding: same vip, protocol and port", path.Index(j), path.Index(i))))
			}
		}
	}
	return errs
}

func sharesAny(a, b []string) bool {
	return slices.ContainsFunc(a, func(x string) bool { return slices.Contains(b, x) })
}

func validateProtocol(path *field.Path, p TransportProtocol) field.ErrorList {
	switch p {
	case TCP, UDP, SCTP:
		return nil
	}
	return field.ErrorList{field.NotSupported(path, p, []TransportProtocol{TCP, UDP, SCTP})}
}

// ValidateUpdate allows every change but the trench label.
func (c *Conduit) ValidateUpdate(_ Object) field.ErrorList { return nil }

// Findings reports port NATs naming vips that do not exist.
func (c *Conduit) Findings(s *Snapshot) []Finding {
	var w []Finding
	for i, n := range c.Spec.DestinationPortNats {
		for k, v := range n.Vips {
			if s.Vip(v) == nil {
				w = append(w, missing(specPath.Child("destination-port-nats").Index(i).Child("vips").Index(k), "Vip", v, c.Labels[TrenchLabel]))
			}
		}
	}
	return w
}
