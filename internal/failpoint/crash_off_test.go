//go:build !failpoint

package failpoint

import "testing"

// TestCrash_notCompiledIn: without the build tag, an armed failpoint does nothing.
func TestCrash_notCompiledIn(t *testing.T) {
	t.Setenv(Env, GitBeforePush)
	Crash(GitBeforePush) // returns: a crash would end the test process
}
