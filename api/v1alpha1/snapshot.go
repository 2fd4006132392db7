package v1alpha1

import (
	"cmp"
	"slices"
)

// Snapshot is one trench and every resource that names it in its trench label, as read at one
// moment. Validation, warnings, status and rendering all work on a snapshot, so none of them needs
// a client.
type Snapshot struct {
	// Trench is nil when the trench named by the label does not exist.
	Trench     *Trench
	Attractors []Attractor
	Gateways   []Gateway
	Vips       []Vip
	Conduits   []Conduit
	Streams    []Stream
	Flows      []Flow
}

// Sort orders every list by name, so that everything computed from the snapshot is stable.
func (s *Snapshot) Sort() {
	sortByName(s.Attractors)
	sortByName(s.Gateways)
	sortByName(s.Vips)
	sortByName(s.Conduits)
	sortByName(s.Streams)
	sortByName(s.Flows)
}

func sortByName[T any, P interface {
	*T
	GetName() string
}](items []T) {
	slices.SortFunc(items, func(a, b T) int { return cmp.Compare(P(&a).GetName(), P(&b).GetName()) })
}

// findByName returns the item with the given name, or nil.
func findByName[T any, P interface {
	*T
	GetName() string
}](items []T, name string) *T {
	for i := range items {
		if P(&items[i]).GetName() == name {
			return &items[i]
		}
	}
	return nil
}

// Stream returns the stream with the given name, or nil.
func (s *Snapshot) Stream(name string) *Stream { return findByName(s.Streams, name) }

// Conduit returns the conduit with the given name, or nil.
func (s *Snapshot) Conduit(name string) *Conduit { return findByName(s.Conduits, name) }

// Vip returns the vip with the given name, or nil.
func (s *Snapshot) Vip(name string) *Vip { return findByName(s.Vips, name) }

// Gateway returns the gateway with the given name, or nil.
func (s *Snapshot) Gateway(name string) *Gateway { return findByName(s.Gateways, name) }

// Family returns the trench's IP family, or "" when there is no trench.
func (s *Snapshot) Family() string {
	if s.Trench == nil {
		return ""
	}
	return s.Trench.Spec.IPFamily
}

// Children returns the resources of the trench (all but the Trench), as pointers into the
// snapshot, kind by kind in the order of the Snapshot fields.
func (s *Snapshot) Children() []Validated {
	var out []Validated
	out = appendPointers(out, s.Attractors)
	out = appendPointers(out, s.Gateways)
	out = appendPointers(out, s.Vips)
	out = appendPointers(out, s.Conduits)
	out = appendPointers(out, s.Streams)
	return appendPointers(out, s.Flows)
}

func appendPointers[T any, P interface {
	*T
	Validated
}](out []Validated, items []T) []Validated {
	for i := range items {
		out = append(out, P(&items[i]))
	}
	return out
}

// With returns a copy of the snapshot in which obj replaces the resource of its kind and name
// (or is added), sorted: the trench as it would be once obj is stored. The lists are copied;
// the resources in them are shared with s.
func (s *Snapshot) With(obj Validated) *Snapshot {
	out := &Snapshot{Trench: s.Trench,
		Attractors: slices.Clone(s.Attractors), Gateways: slices.Clone(s.Gateways), Vips: slices.Clone(s.Vips),
		Conduits: slices.Clone(s.Conduits), Streams: slices.Clone(s.Streams), Flows: slices.Clone(s.Flows)}
	switch o := obj.(type) {
	case *Trench:
		out.Trench = o
	case *Attractor:
		out.Attractors = replaceOrAdd(out.Attractors, *o)
	case *Gateway:
		out.Gateways = replaceOrAdd(out.Gateways, *o)
	case *Vip:
		out.Vips = replaceOrAdd(out.Vips, *o)
	case *Conduit:
		out.Conduits = replaceOrAdd(out.Conduits, *o)
	case *Stream:
		out.Streams = replaceOrAdd(out.Streams, *o)
	case *Flow:
		out.Flows = replaceOrAdd(out.Flows, *o)
	}
	out.Sort()
	return out
}

func replaceOrAdd[T any, P interface {
	*T
	GetName() string
}](items []T, item T) []T {
	if i := slices.IndexFunc(items, func(x T) bool { return P(&x).GetName() == P(&item).GetName() }); i >= 0 {
		items[i] = item
		return items
	}
	return append(items, item)
}
