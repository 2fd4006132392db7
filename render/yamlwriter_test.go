package render

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	yaml "sigs.k8s.io/yaml/goyaml.v2"
)

// awkward are strings whose YAML form is not plain: numbers, booleans, special characters.
var awkward = []string{
	"vip1", "2000", "0-65535", "80-90", "1000::1", "10.0.0.0/8", "2001:db8::/32", "tcp", "true", "yes", "No", "null", "~",
	"", " ", "a b", "a: b", "#x", "x #y", "- x", "0x1f", "1e3", "1.5", ".inf", "tcp[13:1] & 0x02 = 0x02", "udp[9 : 1] = 255",
	"*ref", "&anchor", "!tag", "%x", "@x", "`x", "'q'", `"q"`, "{a}", "[a]", "a,b", "multi\nline", "tab\tx", "ünï",
	"2026-11-25", "12:30", "0o17", "+1", "-1", "=", "?", "a:", ":a", "x-", "A-B.c/d_e",
	"10.0.0.0/8", "1.2.3.4", "8080-8090", "0123", "12345678901234567890", "1.5", "1.2.3", "1-2-3", "1.2.3.4/", "1..2.3",
	"1.2.3.4/x", "0-", "-0", "00", "1_000", "0x10", "1e10", "2001-12-14", "2001-12-14t21:59:43.10-05:00", "1.2.3.4.5.6",
}

func pick(r *rand.Rand) string { return awkward[r.IntN(len(awkward))] }

func pickList(r *rand.Rand) []string {
	if r.IntN(4) == 0 {
		return nil
	}
	l := make([]string, r.IntN(4))
	for i := range l {
		l[i] = pick(r)
	}
	return l
}

// sameAsYAMLv2 compares the writer with yaml.v2 on one list.
func sameAsYAMLv2[T any](t *testing.T, items []T, write func(*T, *yamlWriter, string)) {
	t.Helper()
	want, err := yaml.Marshal(cfgItems[T]{Items: items})
	require.NoError(t, err)
	assert.Equal(t, string(want), writeItems(&yamlWriter{}, items, write))
}

// Test_yamlWriterMatchesYAMLv2 checks byte equality with yaml.v2 (the Meridio reader's library)
// on random items built from awkward strings and numbers.
func Test_yamlWriterMatchesYAMLv2(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	for i := range 300 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			n := r.IntN(3)
			var vips []cfgVip
			var gws []cfgGateway
			var atts []cfgAttractor
			var conduits []cfgConduit
			var streams []cfgStream
			var flows []cfgFlow
			for range n {
				vips = append(vips, cfgVip{Name: pick(r), Address: pick(r), Trench: pick(r)})
				g := cfgGateway{Name: pick(r), Address: pick(r), IPFamily: pick(r), BFD: r.IntN(2) == 0, Protocol: pick(r), Trench: pick(r)}
				if r.IntN(2) == 0 {
					g.RemoteASN, g.LocalASN, g.RemotePort, g.LocalPort, g.HoldTime = r.Uint32(), uint32(r.IntN(2)), uint16(r.IntN(70000)), 179, uint(r.IntN(300))
					g.BGPAuth = &cfgBgpAuth{KeyName: pick(r), KeySource: pick(r)}
				}
				if g.BFD {
					g.MinTx, g.MinRx, g.Multiplier = uint(r.IntN(1000)), 300, uint16(r.IntN(10))
				}
				gws = append(gws, g)
				atts = append(atts, cfgAttractor{Name: pick(r), Vips: pickList(r), Gateways: pickList(r), Trench: pick(r)})
				c := cfgConduit{Name: pick(r), Trench: pick(r)}
				for range r.IntN(3) {
					c.DestinationPortNats = append(c.DestinationPortNats, cfgPortNat{Port: uint16(r.IntN(65536)), TargetPort: uint16(r.IntN(65536)), Vips: pickList(r), Protocol: pick(r)})
				}
				conduits = append(conduits, c)
				streams = append(streams, cfgStream{Name: pick(r), Conduit: pick(r), MaxTargets: r.Uint32()})
				flows = append(flows, cfgFlow{
					Name: pick(r), SourceSubnets: pickList(r), DestinationPortRanges: pickList(r), SourcePortRanges: pickList(r),
					Protocols: pickList(r), Vips: pickList(r), Priority: r.Int32() - r.Int32(), Stream: pick(r), ByteMatches: pickList(r),
				})
			}
			sameAsYAMLv2(t, vips, (*cfgVip).write)
			sameAsYAMLv2(t, gws, (*cfgGateway).write)
			sameAsYAMLv2(t, atts, (*cfgAttractor).write)
			sameAsYAMLv2(t, conduits, (*cfgConduit).write)
			sameAsYAMLv2(t, streams, (*cfgStream).write)
			sameAsYAMLv2(t, flows, (*cfgFlow).write)
		})
	}
}
