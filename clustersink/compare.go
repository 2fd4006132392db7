package clustersink

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sync"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/applyconfigurations"
	smdschema "sigs.k8s.io/structured-merge-diff/v6/schema"

	"github.com/meridio-operator/meridio-operator/internal/scheme"
)

// normalize round-trips v through JSON so that numbers compare as numbers whatever their Go type.
func normalize(v any) (any, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	return out, json.Unmarshal(data, &out)
}

// shape is the schema of one kind, as structured-merge-diff (the API server's server-side
// apply) reads it: which lists are atomic, keyed or sets, and which maps are atomic.
type shape struct {
	schema *smdschema.Schema
	root   smdschema.TypeRef
}

// typeConverter holds the schemas of the built-in kinds client-go carries.
var typeConverter = sync.OnceValue(func() managedfields.TypeConverter {
	return applyconfigurations.NewTypeConverter(scheme.New())
})

// shapes remembers the shape of each kind.
var shapes sync.Map // schema.GroupVersionKind → shape

// shapeOf returns the shape of the kind of obj.
func shapeOf(gvk schema.GroupVersionKind) (shape, error) {
	if s, ok := shapes.Load(gvk); ok {
		return s.(shape), nil
	}
	empty, err := scheme.New().New(gvk)
	if err != nil {
		return shape{}, fmt.Errorf("schema of %s: %w", gvk, err)
	}
	empty.GetObjectKind().SetGroupVersionKind(gvk)
	tv, err := typeConverter().ObjectToTyped(empty)
	if err != nil {
		return shape{}, fmt.Errorf("schema of %s: %w", gvk, err)
	}
	s := shape{schema: tv.Schema(), root: tv.TypeRef()}
	shapes.Store(gvk, s)
	return s, nil
}

// covers tells whether a forced server-side apply of desired over live would leave live's
// values as they are, so that the apply can be skipped. It reads the kind's schema as the API
// server does:
//   - an atomic list is replaced whole: it must have desired's items, no more, in desired's
//     order;
//   - an atomic map of values (nodeSelector, ...) is replaced whole: it must have desired's
//     keys and no other;
//   - a keyed list (containers, env, ports, ...) and a set are merged: desired's items must be
//     there (found by key), items others added are theirs;
//   - other maps and structs are merged field by field: fields desired leaves out are not ours
//     (API-server defaults, fields other managers set).
//
// Extra fields inside the items of an atomic list, and inside an atomic struct, are taken for
// API-server defaults (fieldRef.apiVersion, a port's protocol, ...): without the live object's
// managed fields, which the cache leaves out, they cannot be told from another manager's.
// A null desired value means "don't care". Fields the render stopped setting are not compared:
// the render's hash annotation changes with them, which makes desired differ.
func (s shape) covers(desired, live any) bool { return s.coversAt(s.root, desired, live) }

func (s shape) coversAt(tr smdschema.TypeRef, desired, live any) bool {
	if desired == nil {
		return true
	}
	atom, ok := s.schema.Resolve(tr)
	switch {
	case !ok || atom.Scalar != nil:
		return loosely(desired, live)
	case atom.Map != nil:
		return s.coversMap(atom.Map, desired, live)
	case atom.List != nil:
		return s.coversList(atom.List, desired, live)
	}
	return loosely(desired, live)
}

func (s shape) coversMap(m *smdschema.Map, desired, live any) bool {
	d, ok := desired.(map[string]any)
	if !ok {
		return loosely(desired, live)
	}
	l, ok := live.(map[string]any)
	if !ok {
		return len(d) == 0 && live == nil
	}
	if m.ElementRelationship == smdschema.Atomic && len(m.Fields) == 0 && len(l) != len(d) {
		return false // an atomic map of values: every key of it is ours
	}
	for k, dv := range d {
		tr := m.ElementType
		if f, ok := m.FindField(k); ok {
			tr = f.Type
		}
		if !s.coversAt(tr, dv, l[k]) {
			return false
		}
	}
	return true
}

func (s shape) coversList(list *smdschema.List, desired, live any) bool {
	d, ok := desired.([]any)
	if !ok {
		return loosely(desired, live)
	}
	l, ok := live.([]any)
	if !ok {
		return len(d) == 0 && live == nil
	}
	switch {
	case list.ElementRelationship == smdschema.Atomic:
		if len(l) != len(d) {
			return false
		}
		for i := range d {
			if !s.coversAt(list.ElementType, d[i], l[i]) {
				return false
			}
		}
		return true
	case len(list.Keys) == 0: // a set
		for _, dv := range d {
			if !containsValue(l, dv) {
				return false
			}
		}
		return true
	}
	for _, dv := range d {
		item, found := s.itemByKey(list, dv, l)
		if !found || !s.coversAt(list.ElementType, dv, item) {
			return false
		}
	}
	return true
}

// itemByKey finds the item of live whose key fields equal desired's, a key field left out
// standing for its default (a port's protocol) on either side.
func (s shape) itemByKey(list *smdschema.List, desired any, live []any) (any, bool) {
	d, ok := desired.(map[string]any)
	if !ok {
		return nil, false
	}
	var fields *smdschema.Map
	if atom, ok := s.schema.Resolve(list.ElementType); ok {
		fields = atom.Map
	}
	keyOf := func(item map[string]any, k string) any {
		if v, ok := item[k]; ok && v != nil {
			return v
		}
		if fields != nil {
			if f, ok := fields.FindField(k); ok {
				return f.Default
			}
		}
		return nil
	}
next:
	for _, item := range live {
		m, ok := item.(map[string]any)
		if !ok {
			continue
		}
		for _, k := range list.Keys {
			if !reflect.DeepEqual(keyOf(d, k), keyOf(m, k)) {
				continue next
			}
		}
		return item, true
	}
	return nil, false
}

// containsValue tells whether list holds v.
func containsValue(list []any, v any) bool {
	for _, x := range list {
		if loosely(v, x) {
			return true
		}
	}
	return false
}

// loosely compares two values the schema says nothing more of: maps may hold more keys, lists
// must start with the desired items (the comparison the sink made before it read schemas, for
// the fields of kinds without one).
func loosely(desired, live any) bool {
	switch d := desired.(type) {
	case nil:
		return true
	case map[string]any:
		l, ok := live.(map[string]any)
		if !ok {
			return len(d) == 0 && live == nil
		}
		for k, dv := range d {
			if !loosely(dv, l[k]) {
				return false
			}
		}
		return true
	case []any:
		l, ok := live.([]any)
		if !ok || len(l) < len(d) {
			return !ok && len(d) == 0 && live == nil
		}
		for i := range d {
			if !loosely(d[i], l[i]) {
				return false
			}
		}
		return true
	default:
		return reflect.DeepEqual(desired, live)
	}
}
