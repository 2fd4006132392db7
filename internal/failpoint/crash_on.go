//go:build failpoint

package failpoint

import (
	"os"
	"syscall"
)

var armed = parse(os.Getenv(Env))

// Crash kills the process with SIGKILL at the failpoint named, if it is armed: no deferred
// function runs and no file is flushed, as with a node failure or an OOM kill.
func Crash(name string) {
	if armed[name] {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}
