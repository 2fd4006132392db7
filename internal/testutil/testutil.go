// Package testutil holds small helpers shared by the tests.
package testutil

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/meridio-operator/meridio-operator/internal/localapi"
)

// LogLevel is the level of the controller-runtime log in tests (benchmarks lower it, since go
// test mixes the log into their results).
var LogLevel = zapcore.InfoLevel

// StartEnv starts a local API server for a test package, logging to stderr.
func StartEnv(opts localapi.Options) (*localapi.Env, error) {
	log.SetLogger(zap.New(zap.UseDevMode(true), zap.WriteTo(os.Stderr), zap.Level(LogLevel)))
	return localapi.Start(opts)
}

// RepoRoot returns the directory holding go.mod.
func RepoRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			panic("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// MustDecode decodes one YAML object or fails the test.
func MustDecode(t testing.TB, doc string) *unstructured.Unstructured {
	t.Helper()
	objs, err := localapi.DecodeYAML([]byte(doc))
	require.NoError(t, err)
	require.Len(t, objs, 1)
	return objs[0]
}

// Namespace creates a namespace with a unique name for one test.
func Namespace(t testing.TB, c client.Client) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "test-"}}
	require.NoError(t, c.Create(context.Background(), ns))
	return ns.Name
}

// Run starts one local API server per options, hands them to use (which may prepare them),
// runs the tests and stops the servers. It returns the exit code for os.Exit.
func Run(m interface{ Run() int }, use func(envs ...*localapi.Env) error, opts ...localapi.Options) int {
	var envs []*localapi.Env
	defer func() {
		for _, e := range envs {
			_ = e.Stop()
		}
	}()
	for _, o := range opts {
		e, err := StartEnv(o)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		envs = append(envs, e)
	}
	if err := use(envs...); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// Git runs the git command-line client in dir as a test user (another user of a repository)
// and returns its output, failing the test on an error.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := gitCmd(dir, args...).CombinedOutput()
	require.NoError(t, err, "git %v: %s", args, out)
	return strings.TrimSpace(string(out))
}

// GitOutput runs git in dir and returns its output, errors included (for polling).
func GitOutput(dir string, args ...string) string {
	out, _ := gitCmd(dir, args...).CombinedOutput()
	return strings.TrimSpace(string(out))
}

// GitCommand is git with args in dir, with a fixed identity and no prompts.
func GitCommand(dir string, args ...string) *exec.Cmd { return gitCmd(dir, args...) }

func gitCmd(dir string, args ...string) *exec.Cmd {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=user", "GIT_AUTHOR_EMAIL=user@example.com",
		"GIT_COMMITTER_NAME=user", "GIT_COMMITTER_EMAIL=user@example.com", "GIT_TERMINAL_PROMPT=0")
	return cmd
}
