//go:build !failpoint

package failpoint

// Crash does nothing: this build has no failpoints.
func Crash(string) {}
