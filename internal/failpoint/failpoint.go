// Package failpoint stops the operator at a named point of its work, as a crash there would, so
// that tests can prove it recovers from exactly that point. A failpoint is armed by naming it
// in the MERIDIO_FAILPOINTS environment variable (comma-separated); nothing is armed otherwise,
// and an unarmed failpoint costs one map lookup.
package failpoint

import (
	"os"
	"strings"
	"syscall"
)

// Env is the environment variable that arms failpoints.
const Env = "MERIDIO_FAILPOINTS"

// Failpoints of the operator.
const (
	// GitBeforePush is in git mode after a commit is written to the local clone and before
	// it is pushed.
	GitBeforePush = "git-before-push"
)

var armed = parse(os.Getenv(Env))

func parse(v string) map[string]bool {
	m := map[string]bool{}
	for _, name := range strings.Split(v, ",") {
		if name = strings.TrimSpace(name); name != "" {
			m[name] = true
		}
	}
	return m
}

// Crash kills the process with SIGKILL at the failpoint named, if it is armed: no deferred
// function runs and no file is flushed, as with a node failure or an OOM kill.
func Crash(name string) {
	if armed[name] {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}
