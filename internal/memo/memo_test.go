package memo

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestMemo(t *testing.T) {
	var m Memo
	assert.False(t, m.Repeats("o", "status", "1", "v"), "nothing written yet")
	m.Record("o", "status", "1", "2", "v")
	assert.True(t, m.Repeats("o", "status", "1", "v"), "the cache still shows version 1: the same write again is a repeat")
	assert.True(t, m.Repeats("o", "status", "2", "v"), "the cache shows our own write")
	assert.False(t, m.Repeats("o", "status", "1", "w"), "another value is a new write")
	assert.False(t, m.Repeats("o", "status", "9", "v"), "somebody else changed the object: write again")

	m.Record("o", "adopt", "2", "3", "ref")
	assert.True(t, m.Repeats("o", "status", "3", "v"), "a version made by another write of ours")
	assert.True(t, m.Repeats("o", "adopt", "1", "ref"))

	m.Record("o", "status", "7", "8", "x")
	assert.False(t, m.Repeats("o", "status", "2", "x"), "a write based on a foreign version starts a new chain")
	assert.False(t, m.Repeats("o", "adopt", "7", "ref"), "and forgets the other writes")
	assert.True(t, m.Repeats("o", "status", "7", "x"))

	for i := range 20 {
		m.Record("o", "status", string(rune('a'+i)), string(rune('a'+i+1)), "y")
	}
	assert.False(t, m.Repeats("o", "status", "a", "y"), "old versions are dropped")
	assert.True(t, m.Repeats("o", "status", "u", "y"))

	m.Record("new", "apply", "", "1", "z")
	assert.False(t, m.Repeats("new", "apply", "", "z"), "an object deleted since it was created is created again")
	assert.True(t, m.Repeats("new", "apply", "1", "z"))

	m.Forget("o")
	assert.False(t, m.Repeats("o", "status", "u", "y"))
}
