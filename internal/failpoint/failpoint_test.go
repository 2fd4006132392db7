package failpoint

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParse(t *testing.T) {
	assert.Empty(t, parse(""))
	assert.Equal(t, map[string]bool{GitBeforePush: true, "other": true}, parse(" git-before-push, ,other"))
}
