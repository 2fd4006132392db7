package gitsink

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fluxcd/pkg/gittestserver"
	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/meridio-operator/meridio-operator/internal/offline"
	"github.com/meridio-operator/meridio-operator/internal/testutil"
	"github.com/meridio-operator/meridio-operator/render"
)

const (
	user     = "operator"
	password = "pa55-w0rd-never-shown"
)

// remote is one repository on a real Git server, reached over one protocol.
type remote struct {
	url   string // what the operator is given
	cli   string // what the git CLI of a test uses (credentials included)
	bare  string // the bare repository on disk
	creds *Credentials
}

// newServer starts gittestserver (HTTP with basic auth, and SSH with a generated host key)
// on 127.0.0.1.
func newServer(t *testing.T) *gittestserver.GitServer {
	t.Helper()
	srv, err := gittestserver.NewTempGitServer()
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(srv.Root()) })
	srv.Auth(user, password).KeyDir(t.TempDir())
	require.NoError(t, srv.StartHTTP())
	t.Cleanup(srv.StopHTTP)
	require.NoError(t, srv.ListenSSH())
	go func() { _ = srv.StartSSH() }()
	t.Cleanup(func() { _ = srv.StopSSH() })
	return srv
}

// protocols are the ways a test reaches a repository.
var protocols = []string{"http", "ssh", "file"}

// newRemote creates an empty bare repository (branch main) and returns how to reach it.
func newRemote(t *testing.T, srv *gittestserver.GitServer, proto, name string) remote {
	t.Helper()
	bare := filepath.Join(srv.Root(), name)
	testutil.Git(t, "", "init", "--quiet", "--bare", "-b", "main", bare)
	r := remote{bare: bare}
	switch proto {
	case "http":
		r.url = srv.HTTPAddress() + "/" + name
		r.cli = srv.HTTPAddressWithCredentials() + "/" + name
		r.creds = &Credentials{Username: user, Password: password}
	case "ssh":
		r.url = srv.SSHAddress() + "/" + name
		r.cli = "file://" + bare
		r.creds = &Credentials{Identity: clientKey(t), KnownHosts: knownHostsOf(t, strings.TrimPrefix(srv.SSHAddress(), "ssh://git@"))}
	case "file":
		r.url = "file://" + bare
		r.cli = r.url
	}
	return r
}

// clientKey is a new SSH identity in PEM.
func clientKey(t *testing.T) []byte {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	block, err := ssh.MarshalPrivateKey(key, "")
	require.NoError(t, err)
	return pem.EncodeToMemory(block)
}

// knownHostsOf reads the host key of an SSH server, as ssh-keyscan would.
func knownHostsOf(t *testing.T, addr string) []byte {
	t.Helper()
	var line string
	cfg := &ssh.ClientConfig{User: "git", Auth: []ssh.AuthMethod{ssh.Password("x")}, Timeout: 5 * time.Second,
		HostKeyCallback: func(hostname string, remote net.Addr, key ssh.PublicKey) error {
			line = knownhosts.Line([]string{knownhosts.Normalize(addr)}, key)
			return nil
		}}
	if c, err := ssh.Dial("tcp", addr, cfg); err == nil {
		c.Close()
	}
	require.NotEmpty(t, line, "no host key from %s", addr)
	return []byte(line + "\n")
}

// checkout clones the branch with the git CLI.
func checkout(t *testing.T, url, branch string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "checkout")
	testutil.Git(t, "", "clone", "--quiet", "-b", branch, url, dir)
	return dir
}

// files reads every file under dir (not .git, not the provenance files), by slash path.
func files(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if !d.IsDir() && d.Name() != ProvenanceFile { // provenance is checked on its own
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			out[filepath.ToSlash(rel)] = string(data)
		}
		return nil
	}))
	return out
}

// renderDir renders every trench of the Meridio resources in a directory, as the offline
// render command does.
func renderDir(t testing.TB, dir string) []*render.Result {
	t.Helper()
	resources, errs := offline.ReadPaths([]string{dir}, nil)
	require.Empty(t, errs)
	return testutil.Render(t, resources, "default")
}

// examples renders examples/.
func examples(t testing.TB) []*render.Result {
	return renderDir(t, filepath.Join(testutil.RepoRoot(), "examples"))
}

// logBuffer collects log lines, to check what the sink logs.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) logger() logr.Logger {
	return funcr.New(func(prefix, args string) {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.buf.WriteString(prefix + " " + args + "\n")
	}, funcr.Options{Verbosity: 1})
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// started is a sink whose commit loop runs until the test ends.
type started struct {
	*Sink
	logs *logBuffer
	ctx  context.Context
}

// startSink builds a Repository and a Sink for r and runs the commit loop.
func startSink(t *testing.T, r remote, cloneDir string, opts ...Option) *started {
	t.Helper()
	return startSinkWith(t, r, cloneDir, opts)
}

// startSinkWith is startSink with options of the Sink too.
func startSinkWith(t *testing.T, r remote, cloneDir string, opts []Option, sinkOpts ...SinkOption) *started {
	t.Helper()
	if cloneDir == "" {
		cloneDir = filepath.Join(t.TempDir(), "clone")
	}
	creds := r.creds
	opts = append([]Option{WithCredentials(func(context.Context) (*Credentials, error) { return creds, nil }), WithRetry(5, 20*time.Millisecond)}, opts...)
	repo, err := NewRepository(r.url, "main", cloneDir, opts...)
	require.NoError(t, err)
	s := NewSink(repo, nil, append([]SinkOption{WithCommitDelay(30 * time.Millisecond), WithRetryBackoff(50*time.Millisecond, 200*time.Millisecond), WithOperatorVersion("test"), WithPollInterval(100 * time.Millisecond)}, sinkOpts...)...)
	logs := &logBuffer{}
	ctx, cancel := context.WithCancel(logr.NewContext(context.Background(), logs.logger()))
	done := make(chan struct{})
	go func() { _ = s.Start(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return &started{Sink: s, logs: logs, ctx: ctx}
}

// deliverAll delivers every result and waits until each is pushed; it returns the revisions.
func (s *started) deliverAll(t *testing.T, results ...*render.Result) []string {
	t.Helper()
	// As the reconciler does, tell the sink how many deliveries are still coming, so that
	// they go into one batch however slow this machine is.
	var coming atomic.Int32
	coming.Store(int32(len(results)))
	s.SetBacklog(func() int { return int(coming.Load()) })
	for _, res := range results {
		// An error here can be the last failure, until the next push succeeds.
		_, _ = s.Deliver(s.ctx, res)
		coming.Add(-1)
	}
	revs := make([]string, len(results))
	require.EventuallyWithT(t, func(c *assertT) {
		for i, res := range results {
			got, err := s.Deliver(s.ctx, res)
			if err != nil || got.Revision == "" {
				c.Errorf("trench %s not pushed yet (err %v)", res.Trench, err)
				return
			}
			revs[i] = got.Revision
		}
	}, 20*time.Second, 20*time.Millisecond)
	return revs
}

// removeAll removes trenches and waits until the removal is pushed.
func (s *started) removeAll(t *testing.T, namespace string, trenches ...string) {
	t.Helper()
	require.EventuallyWithT(t, func(c *assertT) {
		for _, tr := range trenches {
			got, err := s.Remove(s.ctx, namespace, tr)
			if err != nil || got.Pending {
				c.Errorf("removal of %s not pushed yet (err %v)", tr, err)
			}
		}
	}, 20*time.Second, 20*time.Millisecond)
}

// commits counts the commits of a branch in a bare repository.
func commits(t *testing.T, bare, branch string) int {
	t.Helper()
	out := testutil.Git(t, bare, "rev-list", "--count", branch)
	var n int
	for _, ch := range out {
		n = n*10 + int(ch-'0')
	}
	return n
}

// withPrefix returns the files of the render layout under a directory.
func withPrefix(files map[string][]byte, prefix string) map[string]string {
	out := map[string]string{}
	for p, data := range files {
		out[filepath.ToSlash(filepath.Join(prefix, p))] = string(data)
	}
	return out
}
