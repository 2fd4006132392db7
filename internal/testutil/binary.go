package testutil

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/meridio-operator/meridio-operator/internal/failpoint"
)

// FreePort returns a TCP port of 127.0.0.1 that is free now.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// OperatorBinary builds the meridio-operator command once per test process, into a temporary
// directory, and returns its path. It is built with failpoints compiled in (the crash tests
// arm them; nothing else does).
func OperatorBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "meridio-operator-")
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(dir, "meridio-operator")
		build := exec.Command("go", "build", "-tags", failpoint.Tag, "-o", binary, ".")
		build.Dir = RepoRoot()
		if out, err := build.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("%w: %s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return binary
}
