package v1alpha1

import (
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// Gateway defaults, as the reference's mutating webhook sets them.
const (
	DefaultBGPPort         uint16 = 179
	DefaultHoldTime               = "240s"
	DefaultBGPBfdInterval         = "300ms"
	DefaultStaticBfdPeriod        = "200ms"
	DefaultBfdMultiplier   uint16 = 3
	minHoldTime                   = 3 * time.Second
)

// Default fills what the mutating webhook fills: the protocol (lower-cased), BGP ports and hold
// time, and the BFD switch and timers. Only missing values are set.
func (g *Gateway) Default() {
	g.Spec.Protocol = strings.ToLower(g.Spec.Protocol)
	if g.Spec.Protocol == "" {
		g.Spec.Protocol = ProtocolBGP
	}
	switch g.Spec.Protocol {
	case ProtocolBGP:
		b := &g.Spec.Bgp
		if b.RemotePort == nil {
			b.RemotePort = ptr.To(DefaultBGPPort)
		}
		if b.LocalPort == nil {
			b.LocalPort = ptr.To(DefaultBGPPort)
		}
		if b.HoldTime == "" {
			b.HoldTime = DefaultHoldTime
		}
		b.BFD.setDefaults(false, DefaultBGPBfdInterval)
	case ProtocolStatic:
		g.Spec.Static.BFD.setDefaults(true, DefaultStaticBfdPeriod)
	}
}

func (b *BfdSpec) setDefaults(on bool, interval string) {
	if b.Switch == nil {
		b.Switch = ptr.To(on)
	}
	if !*b.Switch {
		return
	}
	if b.MinTx == "" {
		b.MinTx = interval
	}
	if b.MinRx == "" {
		b.MinRx = interval
	}
	if b.Multiplier == nil {
		b.Multiplier = ptr.To(DefaultBfdMultiplier)
	}
}

// Validate checks the address and that exactly the section of the protocol is filled in.
func (g *Gateway) Validate(_ *Snapshot) field.ErrorList {
	errs := validateTrenchLabel(g)
	if msg := addressMistake(g.Spec.Address); msg != "" {
		errs = append(errs, field.Invalid(specPath.Child("address"), g.Spec.Address, msg))
	}
	bgpPath, staticPath := specPath.Child("bgp"), specPath.Child("static")
	switch g.Spec.Protocol {
	case ProtocolBGP:
		b := g.Spec.Bgp
		for _, f := range []struct {
			name string
			set  bool
		}{{"remote-asn", b.RemoteASN != nil}, {"local-asn", b.LocalASN != nil}, {"remote-port", b.RemotePort != nil}, {"local-port", b.LocalPort != nil}} {
			if !f.set {
				errs = append(errs, field.Required(bgpPath.Child(f.name), "must be set when protocol is bgp"))
			}
		}
		holdPath := bgpPath.Child("hold-time")
		if b.HoldTime == "" {
			errs = append(errs, field.Required(holdPath, "must be set when protocol is bgp, e.g. \"240s\""))
		} else if d, derrs := validateDuration(b.HoldTime, holdPath); len(derrs) > 0 {
			errs = append(errs, derrs...)
		} else if d.Milliseconds() < minHoldTime.Milliseconds() {
			errs = append(errs, field.Invalid(holdPath, b.HoldTime, "must be at least 3s"))
		}
		errs = append(errs, b.BFD.validate(bgpPath.Child("bfd"))...)
		if !g.Spec.Static.BFD.IsEmpty() {
			errs = append(errs, field.Forbidden(staticPath, "must be empty when protocol is bgp"))
		}
	case ProtocolStatic:
		if !g.Spec.Bgp.IsEmpty() {
			errs = append(errs, field.Forbidden(bgpPath, "must be empty when protocol is static"))
		}
		errs = append(errs, g.Spec.Static.BFD.validate(staticPath.Child("bfd"))...)
	case "":
		errs = append(errs, field.Required(specPath.Child("protocol"), "must be bgp or static"))
	default:
		errs = append(errs, field.NotSupported(specPath.Child("protocol"), g.Spec.Protocol, []string{ProtocolBGP, ProtocolStatic}))
	}
	return errs
}

// validate checks a BFD section that is not empty: the switch must be set, and when it is on,
// both timers and the multiplier too.
func (b BfdSpec) validate(path *field.Path) field.ErrorList {
	if b.IsEmpty() {
		return nil
	}
	if b.Switch == nil {
		return field.ErrorList{field.Required(path.Child("switch"), "must be set when bfd is given")}
	}
	if !*b.Switch {
		return nil
	}
	var errs field.ErrorList
	for _, t := range []struct{ name, value string }{{"min-tx", b.MinTx}, {"min-rx", b.MinRx}} {
		if t.value == "" {
			errs = append(errs, field.Required(path.Child(t.name), "must be set when bfd is on"))
			continue
		}
		_, derrs := validateDuration(t.value, path.Child(t.name))
		errs = append(errs, derrs...)
	}
	if b.Multiplier == nil {
		errs = append(errs, field.Required(path.Child("multiplier"), "must be set when bfd is on"))
	}
	return errs
}

// ValidateUpdate allows every change but the trench label.
func (g *Gateway) ValidateUpdate(_ Object) field.ErrorList { return nil }

// Findings reports an address whose family does not fit the trench.
func (g *Gateway) Findings(s *Snapshot) []Finding {
	return warnFamily(s, specPath.Child("address"), g.Spec.Address)
}
