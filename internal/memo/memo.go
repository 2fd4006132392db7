// Package memo remembers the writes the operator made, so that a reconcile that reads a cache
// which has not yet seen a write does not send the same write again.
package memo

import (
	"reflect"
	"slices"
	"strings"
	"sync"
)

// chainLength bounds how many resourceVersions of one object are remembered.
const chainLength = 8

// Memo remembers, per object, the resourceVersions its own writes led to and the last value of
// each kind of write (apply, status, adoption, ...).
type Memo struct {
	mu sync.Mutex
	m  map[string]*entry
}

type entry struct {
	// versions are resourceVersions that only the operator's own writes led to: the version
	// the first write was decided on and the result of each write since.
	versions []string
	values   map[string]any
}

// Repeats tells whether a write of value (of kind what) to object, whose cached
// resourceVersion is rv, repeats the last such write: the cache shows a version from before
// or between the operator's own writes, not one somebody else made.
func (m *Memo) Repeats(object, what, rv string, value any) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.m[object]
	if !ok || rv == "" || !slices.Contains(e.versions, rv) {
		// An absent object (no version) is never a repeat: somebody deleted it.
		return false
	}
	last, ok := e.values[what]
	return ok && reflect.DeepEqual(last, value)
}

// Record remembers a write of value (of kind what) to object, decided on resourceVersion from
// and resulting in resourceVersion to. Value must not be changed afterwards.
func (m *Memo) Record(object, what, from, to string, value any) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = map[string]*entry{}
	}
	e, ok := m.m[object]
	if !ok || !slices.Contains(e.versions, from) {
		// The object changed under us: start a new chain.
		e = &entry{versions: []string{from}, values: map[string]any{}}
		m.m[object] = e
	}
	e.versions = append(e.versions, to)
	if len(e.versions) > chainLength {
		e.versions = e.versions[len(e.versions)-chainLength:]
	}
	e.values[what] = value
}

// Forget drops what was remembered of object (it is gone).
func (m *Memo) Forget(object string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.m, object)
}

// ForgetExcept drops what was remembered of the objects whose key starts with prefix and that
// keep does not name: a caller that owns a group of keys forgets the objects that are gone.
func (m *Memo) ForgetExcept(prefix string, keep map[string]bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k := range m.m {
		if strings.HasPrefix(k, prefix) && !keep[k] {
			delete(m.m, k)
		}
	}
}
