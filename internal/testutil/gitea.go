package testutil

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/stretchr/testify/require"
)

// Gitea is a real Gitea (built from the Go module proxy by make testenv) on 127.0.0.1, with
// sqlite, and one admin user whose API token tests use.
type Gitea struct {
	// URL is the server's root URL, with a trailing slash.
	URL string
	// User, Password and Email are the admin user's; Token is an API token of theirs (all
	// scopes), which also authenticates git over HTTP.
	User, Password, Email, Token string
	cmd                          *exec.Cmd
	logs                         LockedBuffer
}

// GiteaBinary is where make testenv builds Gitea.
func GiteaBinary() string { return filepath.Join(RepoRoot(), "bin", "gitea", "gitea") }

// StartGitea starts a Gitea for the test (stopped when it ends); its admin user is operator
// with email.
func StartGitea(t testing.TB, email string) *Gitea {
	t.Helper()
	bin := GiteaBinary()
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("gitea is not built: run make testenv (%v)", err)
	}
	work := t.TempDir()
	port := FreePort(t)
	g := &Gitea{URL: fmt.Sprintf("http://127.0.0.1:%d/", port), User: "operator", Password: "operator-pa55word", Email: email}
	ini := filepath.Join(work, "app.ini")
	conf := fmt.Sprintf(`APP_NAME = meridio-operator tests
RUN_MODE = prod
WORK_PATH = %[1]s
I_AM_BEING_UNSAFE_RUNNING_AS_ROOT = true
[server]
HTTP_ADDR = 127.0.0.1
HTTP_PORT = %[2]d
ROOT_URL = %[3]s
STATIC_ROOT_PATH = %[4]s
OFFLINE_MODE = true
DISABLE_SSH = true
START_SSH_SERVER = false
LFS_START_SERVER = false
[database]
DB_TYPE = sqlite3
PATH = %[1]s/gitea.db
SQLITE_JOURNAL_MODE = WAL
[security]
INSTALL_LOCK = true
SECRET_KEY = meridio-operator-tests-secret-key
[repository]
ROOT = %[1]s/repos
[log]
MODE = console
LEVEL = warn
[service]
DISABLE_REGISTRATION = true
[mailer]
ENABLED = false
[cron]
ENABLED = false
[indexer]
REPO_INDEXER_ENABLED = false
[api]
ENABLE_SWAGGER = false
`, work, port, g.URL, filepath.Dir(bin))
	require.NoError(t, os.WriteFile(ini, []byte(conf), 0o600))
	run := func(args ...string) {
		cmd := exec.Command(bin, append(args, "--config", ini)...)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "GITEA_WORK_DIR="+work, "HOME="+work)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "gitea %s: %s", strings.Join(args, " "), out)
	}
	run("migrate")
	run("admin", "user", "create", "--username", g.User, "--password", g.Password, "--email", email, "--admin", "--must-change-password=false")
	g.cmd = exec.Command(bin, "web", "--config", ini)
	g.cmd.Dir = work
	g.cmd.Env = append(os.Environ(), "GITEA_WORK_DIR="+work, "HOME="+work)
	g.cmd.Stdout, g.cmd.Stderr = &g.logs, &g.logs
	require.NoError(t, g.cmd.Start())
	t.Cleanup(func() { _ = g.cmd.Process.Kill(); _ = g.cmd.Wait() })
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(g.URL + "api/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("gitea did not start: %v\n%s", err, g.Logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
	var tok struct {
		SHA1 string `json:"sha1"`
	}
	g.API(t, "POST", "users/"+g.User+"/tokens", map[string]any{"name": "tests", "scopes": []string{"all"}}, &tok, true)
	g.Token = tok.SHA1
	return g
}

// Logs is what Gitea printed.
func (g *Gitea) Logs() string { return g.logs.String() }

// API calls Gitea's API (path under /api/v1/) with the token (or the password when basic is
// true), and decodes the answer into out unless it is nil; it fails the test on an error.
func (g *Gitea) API(t testing.TB, method, path string, body, out any, basic ...bool) {
	t.Helper()
	status, data := g.Call(t, method, path, body, len(basic) > 0 && basic[0])
	require.Less(t, status, 300, "%s %s: %d %s", method, path, status, data)
	if out != nil {
		require.NoError(t, json.Unmarshal(data, out), "%s", data)
	}
}

// Call calls Gitea's API and returns the status code and body.
func (g *Gitea) Call(t testing.TB, method, path string, body any, basic bool) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		require.NoError(t, err)
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, g.URL+"api/v1/"+path, r)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if basic {
		req.SetBasicAuth(g.User, g.Password)
	} else {
		req.Header.Set("Authorization", "token "+g.Token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, data
}

// CreateRepo creates a repository of the admin user, with a first commit on main, and returns
// its Git URL (without credentials).
func (g *Gitea) CreateRepo(t testing.TB, name string) string {
	t.Helper()
	g.API(t, "POST", "user/repos", map[string]any{"name": name, "auto_init": true, "default_branch": "main", "readme": "Default"}, nil)
	return g.URL + g.User + "/" + name + ".git"
}

// CloneURL is the Git URL of a repository with the admin user's credentials.
func (g *Gitea) CloneURL(name string) string {
	return strings.Replace(g.URL, "http://", "http://"+g.User+":"+g.Token+"@", 1) + g.User + "/" + name + ".git"
}

// AddGPGKey registers the public key of k to the admin user, verified: the verification token
// is signed with the key, as the web page asks users to.
func (g *Gitea) AddGPGKey(t testing.TB, k SigningKey) {
	t.Helper()
	status, token := g.Call(t, "GET", "user/gpg_key_token", nil, false)
	require.Equal(t, http.StatusOK, status, "%s", token)
	var sig bytes.Buffer
	require.NoError(t, openpgp.ArmoredDetachSignText(&sig, k.Entity, bytes.NewReader(token), nil))
	g.API(t, "POST", "user/gpg_keys", map[string]any{"armored_public_key": string(k.Public), "armored_signature": sig.String()}, nil)
}
