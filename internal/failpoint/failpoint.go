// Package failpoint stops the operator at a named point of its work, as a crash there would, so
// that tests can prove it recovers from exactly that point. Failpoints exist only in a binary
// built with the build tag "failpoint" (the crash tests build one); there a failpoint is armed
// by naming it in the MERIDIO_FAILPOINTS environment variable (comma-separated). In any other
// build, the image's included, Crash does nothing and the environment is not read.
package failpoint

import "strings"

// Env is the environment variable that arms failpoints.
const Env = "MERIDIO_FAILPOINTS"

// Tag is the build tag that compiles failpoints in.
const Tag = "failpoint"

// Failpoints of the operator.
const (
	// GitBeforePush is in git mode after a commit is written to the local clone and before
	// it is pushed.
	GitBeforePush = "git-before-push"
)

func parse(v string) map[string]bool {
	m := map[string]bool{}
	for _, name := range strings.Split(v, ",") {
		if name = strings.TrimSpace(name); name != "" {
			m[name] = true
		}
	}
	return m
}
