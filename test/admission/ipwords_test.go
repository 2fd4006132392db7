package admission

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meridio-operator/meridio-operator/internal/testutil"
)

// Test_ipMistakesWorded: on the real API server, each IP mistake is refused with its own words,
// the same for a Vip (the CRD's CEL rules, which run before the webhooks) and for a Flow's
// source subnet (the validating webhook), and for a gateway address.
func Test_ipMistakesWorded(t *testing.T) {
	ctx := context.Background()
	ns := testutil.Namespace(t, env.Client)
	for _, f := range fixtures {
		o := testutil.MustDecode(t, f)
		o.SetNamespace(ns)
		require.NoError(t, env.Client.Create(ctx, o), o.GetName())
	}
	refusal := func(t *testing.T, obj string) string {
		t.Helper()
		o := testutil.MustDecode(t, obj)
		o.SetNamespace(ns)
		err := env.Client.Create(ctx, o)
		require.Error(t, err, "the API server accepted %s", obj)
		return err.Error()
	}
	for value, want := range map[string]string{
		"20.0.0.1":        "not a prefix: write the address and the prefix length, as in 10.0.0.0/24 or 2001:db8::/64",
		"20.0.0/24":       "not an IP address before the /: write an IPv4 or IPv6 address, as in 10.0.0.0/24 or 2001:db8::/64",
		"20.0.0.0/x":      "the prefix length after the / is not a number: write 0-32 for IPv4, 0-128 for IPv6",
		"20.0.0.1/33":     "prefix length out of range: 0-32 for an IPv4 address, 0-128 for IPv6",
		"2001:db8::/129":  "prefix length out of range: 0-32 for an IPv4 address, 0-128 for IPv6",
		"2001:db8::1/64":  "host bits set: write the network address of the prefix, as in 10.0.0.0/24 for 10.0.0.1/24",
		"20.0.0.0/024":    "not a prefix: write the address and the prefix length, as in 10.0.0.0/24 or 2001:db8::/64",
		"fe80::1%eth0/64": "not an IP address before the /: write an IPv4 or IPv6 address, as in 10.0.0.0/24 or 2001:db8::/64",
	} {
		t.Run(value, func(t *testing.T) {
			field := fmt.Sprintf("Invalid value: %q: %s", value, want)
			assert.Contains(t, refusal(t, cr("Vip", "v", "t1", fmt.Sprintf("{address: %q}", value))), "spec.address: "+field)
			assert.Contains(t, refusal(t, cr("Flow", "f", "t1", fmt.Sprintf("{vips: [vy], protocols: [tcp], priority: 1, source-subnets: [%q]}", value))), "spec.source-subnets[0]: "+field)
		})
	}
	for value, want := range map[string]string{
		"1.2.3.4/32":     "a gateway address has no prefix length: write the address alone, as in 192.0.2.1 or 2001:db8::1",
		"gw.example.com": "not an IP address: write an IPv4 or IPv6 address, as in 192.0.2.1 or 2001:db8::1",
	} {
		assert.Contains(t, refusal(t, cr("Gateway", "g", "t1", fmt.Sprintf(`{address: %q, protocol: static, static: {}}`, value))), fmt.Sprintf("spec.address: Invalid value: %q: %s", value, want))
	}
}
