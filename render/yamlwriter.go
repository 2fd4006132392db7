package render

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"

	yaml "sigs.k8s.io/yaml/goyaml.v2"
)

// yamlWriter writes the configuration items in exactly the bytes yaml.v2 writes for them, at a
// fraction of its cost (yaml.v2 allocates a large event per node). It knows only the shapes of
// the configuration: mappings of scalars, string lists, and nested lists of mappings.
type yamlWriter struct {
	b bytes.Buffer
	// scalars caches the yaml.v2 form of strings that are not safe to write plain.
	scalars map[string]string
	// contextual is set when a string's form depends on its indentation (a multi-line block
	// literal); the item is then written by yaml.v2 itself.
	contextual bool
}

// plainSafe matches strings that yaml.v2 writes unquoted: they start with a letter, hold no
// character with a meaning in YAML, and so cannot be read back as a number or a timestamp.
var plainSafe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9._/-]*$`)

// Shapes of digit-led strings whose yaml.v2 form is known without asking it: digits alone read
// as a number, so yaml.v2 double-quotes them; dotted numbers with at least three parts
// (addresses, prefixes) and two numbers joined by a dash (port ranges) are no number, bool or
// timestamp, so they stay plain.
var (
	digitsOnly = regexp.MustCompile(`^[0-9]+$`)
	plainDigit = regexp.MustCompile(`^([0-9]+(\.[0-9]+){2,}(/[0-9]+)?|[0-9]+-[0-9]+)$`)
)

// yaml11Words are the plain words YAML 1.1 reads as booleans or null; yaml.v2 quotes them.
var yaml11Words = map[string]bool{
	"y": true, "Y": true, "yes": true, "Yes": true, "YES": true, "n": true, "N": true, "no": true, "No": true, "NO": true,
	"true": true, "True": true, "TRUE": true, "false": true, "False": true, "FALSE": true,
	"on": true, "On": true, "ON": true, "off": true, "Off": true, "OFF": true, "null": true, "Null": true, "NULL": true,
}

// scalar returns s as yaml.v2 writes it as a mapping value or sequence entry.
func (w *yamlWriter) scalar(s string) string {
	if plainSafe.MatchString(s) && !yaml11Words[s] || plainDigit.MatchString(s) {
		return s
	}
	if digitsOnly.MatchString(s) {
		return `"` + s + `"`
	}
	if strings.ContainsRune(s, '\n') {
		w.contextual = true
		return ""
	}
	if v, ok := w.scalars[s]; ok {
		return v
	}
	out, err := yaml.Marshal(s)
	if err != nil {
		panic(err) // a string always marshals
	}
	v := strings.TrimSuffix(string(out), "\n")
	if w.scalars == nil {
		w.scalars = map[string]string{}
	}
	w.scalars[s] = v
	return v
}

// key starts "key:" at the indent; first starts a sequence item ("- ") instead of indenting.
func (w *yamlWriter) key(indent string, first bool, key string) {
	if first {
		w.b.WriteString(indent[:len(indent)-2])
		w.b.WriteString("- ")
	} else {
		w.b.WriteString(indent)
	}
	w.b.WriteString(key)
	w.b.WriteByte(':')
}

func (w *yamlWriter) str(indent string, first bool, key, v string) {
	w.key(indent, first, key)
	w.b.WriteByte(' ')
	w.b.WriteString(w.scalar(v))
	w.b.WriteByte('\n')
}

func (w *yamlWriter) uint(indent string, key string, v uint64) {
	w.key(indent, false, key)
	w.b.WriteByte(' ')
	w.b.WriteString(strconv.FormatUint(v, 10))
	w.b.WriteByte('\n')
}

// uintOmitEmpty writes v unless it is zero, as yaml.v2 does for omitempty fields.
func (w *yamlWriter) uintOmitEmpty(indent string, key string, v uint64) {
	if v != 0 {
		w.uint(indent, key, v)
	}
}

func (w *yamlWriter) int(indent string, key string, v int64) {
	w.key(indent, false, key)
	w.b.WriteByte(' ')
	w.b.WriteString(strconv.FormatInt(v, 10))
	w.b.WriteByte('\n')
}

func (w *yamlWriter) bool(indent string, key string, v bool) {
	w.key(indent, false, key)
	w.b.WriteByte(' ')
	w.b.WriteString(strconv.FormatBool(v))
	w.b.WriteByte('\n')
}

// list writes a string list; yaml.v2 writes a block sequence at the key's indent, or [] when empty.
func (w *yamlWriter) list(indent string, key string, items []string) {
	w.key(indent, false, key)
	if len(items) == 0 {
		w.b.WriteString(" []\n")
		return
	}
	w.b.WriteByte('\n')
	for _, it := range items {
		w.b.WriteString(indent)
		w.b.WriteString("- ")
		w.b.WriteString(w.scalar(it))
		w.b.WriteByte('\n')
	}
}

// items writes "items:" and one sequence item per element, each written by write at the item
// indent (the first key of an item carries the "- ").
func writeItems[T any](w *yamlWriter, items []T, write func(item *T, w *yamlWriter, indent string)) string {
	w.b.Reset()
	if len(items) == 0 {
		return "items: []\n"
	}
	w.b.WriteString("items:\n")
	for i := range items {
		start := w.b.Len()
		w.contextual = false
		write(&items[i], w, "  ")
		if w.contextual {
			w.b.Truncate(start)
			one, err := yaml.Marshal(cfgItems[T]{Items: items[i : i+1]})
			if err != nil {
				panic(err) // these shapes of strings and numbers always marshal
			}
			w.b.Write(bytes.TrimPrefix(one, []byte("items:\n")))
		}
	}
	return w.b.String()
}

func (c *cfgVip) write(w *yamlWriter, in string) {
	w.str(in, true, "name", c.Name)
	w.str(in, false, "address", c.Address)
	w.str(in, false, "trench", c.Trench)
}

func (c *cfgAttractor) write(w *yamlWriter, in string) {
	w.str(in, true, "name", c.Name)
	w.list(in, "vips", c.Vips)
	w.list(in, "gateways", c.Gateways)
	w.str(in, false, "trench", c.Trench)
}

func (c *cfgConduit) write(w *yamlWriter, in string) {
	w.str(in, true, "name", c.Name)
	w.str(in, false, "trench", c.Trench)
	if len(c.DestinationPortNats) == 0 {
		return
	}
	w.key(in, false, "destination-port-nats")
	w.b.WriteByte('\n')
	nested := in + "  "
	for _, n := range c.DestinationPortNats {
		w.key(nested, true, "port")
		w.b.WriteString(" " + strconv.FormatUint(uint64(n.Port), 10) + "\n")
		w.uint(nested, "target-port", uint64(n.TargetPort))
		w.list(nested, "vips", n.Vips)
		w.str(nested, false, "protocol", n.Protocol)
	}
}

func (c *cfgStream) write(w *yamlWriter, in string) {
	w.str(in, true, "name", c.Name)
	w.str(in, false, "conduit", c.Conduit)
	w.uint(in, "max-targets", uint64(c.MaxTargets))
}

func (c *cfgFlow) write(w *yamlWriter, in string) {
	w.str(in, true, "name", c.Name)
	w.list(in, "source-subnets", c.SourceSubnets)
	w.list(in, "destination-port-ranges", c.DestinationPortRanges)
	w.list(in, "source-port-ranges", c.SourcePortRanges)
	w.list(in, "protocols", c.Protocols)
	w.list(in, "vips", c.Vips)
	w.int(in, "priority", int64(c.Priority))
	w.str(in, false, "stream", c.Stream)
	if len(c.ByteMatches) > 0 {
		w.list(in, "byte-matches", c.ByteMatches)
	}
}

func (c *cfgGateway) write(w *yamlWriter, in string) {
	w.str(in, true, "name", c.Name)
	w.str(in, false, "address", c.Address)
	w.uintOmitEmpty(in, "remote-asn", uint64(c.RemoteASN))
	w.uintOmitEmpty(in, "local-asn", uint64(c.LocalASN))
	w.uintOmitEmpty(in, "remote-port", uint64(c.RemotePort))
	w.uintOmitEmpty(in, "local-port", uint64(c.LocalPort))
	w.str(in, false, "ip-family", c.IPFamily)
	w.bool(in, "bfd", c.BFD)
	w.str(in, false, "protocol", c.Protocol)
	w.uintOmitEmpty(in, "hold-time", uint64(c.HoldTime))
	w.uintOmitEmpty(in, "min-tx", uint64(c.MinTx))
	w.uintOmitEmpty(in, "min-rx", uint64(c.MinRx))
	w.uintOmitEmpty(in, "multiplier", uint64(c.Multiplier))
	w.str(in, false, "trench", c.Trench)
	if c.BGPAuth != nil {
		w.key(in, false, "bgp-auth")
		w.b.WriteByte('\n')
		w.str(in+"  ", false, "key", c.BGPAuth.KeyName)
		w.str(in+"  ", false, "source", c.BGPAuth.KeySource)
	}
}
