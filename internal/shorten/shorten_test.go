package shorten

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestTo(t *testing.T) {
	assert.Equal(t, "short", To("short", 10))
	assert.Equal(t, "exactly10!", To("exactly10!", 10))
	assert.Equal(t, "abcdefg...", To("abcdefghijk", 10))
	assert.Equal(t, "abcdef...", To("abcdefé-and-more", 10), "é is two bytes: not cut in half")
	assert.Equal(t, "..", To("abcdef", 2))
}
