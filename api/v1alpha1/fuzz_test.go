package v1alpha1

import (
	"encoding/json"
	"testing"
)

// FuzzValidate runs the defaulting, validation and findings of every kind on specs the fuzzer
// makes (any JSON that decodes into the kind's spec): they never panic.
func FuzzValidate(f *testing.F) {
	for _, seed := range []struct {
		kind uint8
		spec string
	}{
		{0, `{"ip-family": "dualstack"}`},
		{1, `{"composites": ["c"], "gateways": ["g"], "vips": ["v"], "replicas": 2, "interface": {"name": "e", "ipv4-prefix": "169.254.1.0/24", "ipv6-prefix": "100::/64", "nsm-vlan": {"vlan-id": 10, "base-interface": "eth0"}}}`},
		{2, `{"address": "1.2.3.4", "protocol": "bgp", "bgp": {"remote-asn": 1, "local-asn": 2, "hold-time": "30s", "bfd": {"switch": true, "min-tx": "300ms", "multiplier": 3}, "auth": {"key-name": "k", "key-source": "s"}}}`},
		{2, `{"address": "::ffff:1.2.3.4", "protocol": "static", "static": {"bfd": {"switch": true, "min-rx": "1s"}}}`},
		{3, `{"address": "20.0.0.0/24"}`},
		{4, `{"type": "stateless-lb", "destination-port-nats": [{"port": 80, "target-port": 8080, "vips": ["v"], "protocol": "tcp"}]}`},
		{5, `{"conduit": "c", "max-targets": 100}`},
		{6, `{"stream": "s", "vips": ["v"], "protocols": ["tcp", "udp"], "priority": 1, "source-subnets": ["10.0.0.0/8", "::/0"], "source-ports": ["any"], "destination-ports": ["80", "8080-8090"], "byte-matches": ["tcp[13:1] & 0x02 = 0x02"]}`},
	} {
		f.Add(seed.kind, []byte(seed.spec))
	}
	f.Fuzz(func(t *testing.T, kind uint8, spec []byte) {
		trench := &Trench{}
		trench.Name, trench.Namespace = "t", "default"
		trench.Spec.IPFamily = "dualstack"
		labels := map[string]string{TrenchLabel: "t"}
		var obj Validated
		switch kind % 7 {
		case 0:
			o := &Trench{}
			obj, o.Name = o, "t"
			_ = json.Unmarshal(spec, &o.Spec)
		case 1:
			o := &Attractor{}
			obj, o.Name, o.Labels = o, "a", labels
			_ = json.Unmarshal(spec, &o.Spec)
		case 2:
			o := &Gateway{}
			obj, o.Name, o.Labels = o, "g", labels
			_ = json.Unmarshal(spec, &o.Spec)
		case 3:
			o := &Vip{}
			obj, o.Name, o.Labels = o, "v", labels
			_ = json.Unmarshal(spec, &o.Spec)
		case 4:
			o := &Conduit{}
			obj, o.Name, o.Labels = o, "c", labels
			_ = json.Unmarshal(spec, &o.Spec)
		case 5:
			o := &Stream{}
			obj, o.Name, o.Labels = o, "s", labels
			_ = json.Unmarshal(spec, &o.Spec)
		default:
			o := &Flow{}
			obj, o.Name, o.Labels = o, "f", labels
			_ = json.Unmarshal(spec, &o.Spec)
		}
		obj.SetNamespace("default")
		obj.(interface{ Default() }).Default()
		s := &Snapshot{Trench: trench}
		s = s.With(obj)
		_ = ValidateCreate(obj, s)
		_ = obj.Findings(s)
		_ = obj.ValidateUpdate(obj.DeepCopyObject().(Object))
	})
}
