package gitsink

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fluxcd/pkg/gittestserver"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/meridio-operator/meridio-operator/delivery"
	"github.com/meridio-operator/meridio-operator/internal/testutil"
)

// gitHost is the name the HTTPS git server's certificate is for. It resolves nowhere (.test
// is reserved), so a request to it can only have gone through the test's proxy.
const gitHost = "git.test"

// pki is a test CA, issuing PEM certificates and keys.
type pki struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
	pool *x509.CertPool
}

func newPKI(t *testing.T, name string) *pki {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &pki{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pool: pool}
}

// issue returns a certificate (server: for gitHost and 127.0.0.1; else a client's) and its key.
func (p *pki) issue(t *testing.T, cn string, server bool) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = []string{gitHost}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.cert, &key.PublicKey, p.key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}

// httpsFront serves gittestserver's repositories over HTTPS (a certificate of ca), asking
// for and verifying client certificates of clientCA when it is set. It records the requests.
type httpsFront struct {
	port string
	mu   sync.Mutex
	seen []string
}

func newHTTPSFront(t *testing.T, srv *gittestserver.GitServer, ca, clientCA *pki) *httpsFront {
	t.Helper()
	target, err := url.Parse(srv.HTTPAddress())
	require.NoError(t, err)
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.FlushInterval = -1
	f := &httpsFront{}
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.seen = append(f.seen, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
		f.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	certPEM, keyPEM := ca.issue(t, gitHost, true)
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	require.NoError(t, err)
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{pair}}
	if clientCA != nil {
		ts.TLS.ClientAuth = tls.RequireAndVerifyClientCert
		ts.TLS.ClientCAs = clientCA.pool
	}
	ts.StartTLS()
	t.Cleanup(ts.Close)
	_, f.port, _ = net.SplitHostPort(ts.Listener.Addr().String())
	return f
}

// requests are the requests the front saw, as "METHOD path?query".
func (f *httpsFront) requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.seen...)
}

// connectProxy is an HTTP CONNECT proxy on 127.0.0.1. It sends gitHost to 127.0.0.1, asks for
// basic authentication when user is set, refuses every tunnel when refuse is set, and records
// the tunnels it was asked for.
type connectProxy struct {
	url            string
	user, password string
	refuse         bool
	mu             sync.Mutex
	tunnels        []string
}

func newConnectProxy(t *testing.T, user, password string, refuse bool) *connectProxy {
	t.Helper()
	p := &connectProxy{user: user, password: password, refuse: refuse}
	ts := httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(ts.Close)
	p.url = ts.URL
	return p
}

func (p *connectProxy) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
		return
	}
	p.mu.Lock()
	p.tunnels = append(p.tunnels, r.Host)
	p.mu.Unlock()
	if p.user != "" {
		want := "Basic " + base64.StdEncoding.EncodeToString([]byte(p.user+":"+p.password))
		if r.Header.Get("Proxy-Authorization") != want {
			w.Header().Set("Proxy-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusProxyAuthRequired)
			return
		}
	}
	if p.refuse {
		w.WriteHeader(http.StatusForbidden)
		return
	}
	host, port, err := net.SplitHostPort(r.Host)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if host == gitHost {
		host = "127.0.0.1"
	}
	upstream, err := net.DialTimeout("tcp", net.JoinHostPort(host, port), 5*time.Second)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		upstream.Close()
		return
	}
	_, _ = conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
	go func() {
		_, _ = io.Copy(upstream, bufio.NewReader(io.MultiReader(buf, conn)))
		upstream.Close()
	}()
	_, _ = io.Copy(conn, upstream)
	conn.Close()
}

func (p *connectProxy) seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.tunnels...)
}

// seeded is an HTTP(S) remote whose main branch has a commit, so that the sink fetches before
// it pushes.
func seeded(t *testing.T, srv *gittestserver.GitServer, name, rawURL string, creds *Credentials) remote {
	t.Helper()
	bare := filepath.Join(srv.Root(), name)
	testutil.Git(t, "", "init", "--quiet", "--bare", "-b", "main", bare)
	wt := filepath.Join(t.TempDir(), "w")
	testutil.Git(t, "", "clone", "--quiet", "file://"+bare, wt)
	require.NoError(t, os.WriteFile(filepath.Join(wt, "README.md"), []byte("fleet\n"), 0o644))
	testutil.Git(t, wt, "add", "README.md")
	testutil.Git(t, wt, "commit", "--quiet", "-m", "readme")
	testutil.Git(t, wt, "push", "--quiet", "origin", "HEAD:main")
	return remote{url: rawURL + "/" + name, cli: "file://" + bare, bare: bare, creds: creds}
}

// syncOnce reads the remote's branches once, with these credentials.
func syncOnce(t *testing.T, rawURL string, creds *Credentials) error {
	t.Helper()
	repo, err := NewRepository(rawURL, "main", filepath.Join(t.TempDir(), "clone"),
		WithCredentials(func(context.Context) (*Credentials, error) { return creds, nil }), WithTimeout(10*time.Second))
	require.NoError(t, err)
	return repo.Sync(context.Background())
}

// pushThrough delivers one trench and checks it landed, and that list, fetch and push all
// reached the server.
func pushThrough(t *testing.T, r remote, front *httpsFront) {
	t.Helper()
	s := startSink(t, r, "")
	s.deliverAll(t, examples(t)[0])
	got := files(t, checkout(t, r.cli, "main"))
	assert.Equal(t, "fleet\n", got["README.md"])
	assert.Contains(t, got, "default/trench-a/kustomization.yaml")
	seen := strings.Join(front.requests(), "\n")
	for _, want := range []string{"GET /" + filepath.Base(r.bare) + "/info/refs?service=git-upload-pack", "POST /" + filepath.Base(r.bare) + "/git-upload-pack",
		"GET /" + filepath.Base(r.bare) + "/info/refs?service=git-receive-pack", "POST /" + filepath.Base(r.bare) + "/git-receive-pack"} {
		assert.Contains(t, seen, want)
	}
}

// Test_Auth_mTLS: with tls.crt and tls.key, a server that requires client certificates takes
// the fetch and the push; without them, or with a certificate it does not trust, the error
// says so and counts as refused credentials, and the key is never shown.
func Test_Auth_mTLS(t *testing.T) {
	srv := newServer(t)
	ca, clientCA := newPKI(t, "server-ca"), newPKI(t, "client-ca")
	front := newHTTPSFront(t, srv, ca, clientCA)
	crt, key := clientCA.issue(t, "meridio-operator", false)
	base := "https://127.0.0.1:" + front.port
	creds := CredentialsFromSecret(map[string][]byte{"username": []byte(user), "password": []byte(password),
		"ca.crt": ca.pem, "tls.crt": crt, "tls.key": key})
	r := seeded(t, srv, "mtls.git", base, creds)
	pushThrough(t, r, front)

	err := syncOnce(t, r.url, &Credentials{Username: user, Password: password, CACert: ca.pem})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the server wants a client certificate, and the secret has none (tls.crt, tls.key)")
	assert.Equal(t, ReasonAuthFailed, delivery.ReasonOf(err, ""), "error: %v", err)

	otherCrt, otherKey := newPKI(t, "other-ca").issue(t, "stranger", false)
	err = syncOnce(t, r.url, &Credentials{Username: user, Password: password, CACert: ca.pem, TLSCert: otherCrt, TLSKey: otherKey})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the server refused the client certificate of tls.crt")
	assert.Equal(t, ReasonAuthFailed, delivery.ReasonOf(err, ""), "error: %v", err)
	assert.NotContains(t, err.Error(), string(otherKey))

	// Without ca.crt the server's certificate is not trusted.
	err = syncOnce(t, r.url, &Credentials{Username: user, Password: password, TLSCert: crt, TLSKey: key})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "certificate")
}

// Test_Auth_badTLSSecret: a half or mismatched pair, or a ca.crt without a certificate, is
// refused before any connection, naming the keys, never showing the key.
func Test_Auth_badTLSSecret(t *testing.T) {
	ca := newPKI(t, "ca")
	crt, key := ca.issue(t, "a", false)
	_, otherKey := ca.issue(t, "b", false)
	u, _ := url.Parse("https://" + gitHost + "/repo.git")
	for _, tc := range []struct {
		name  string
		creds *Credentials
		want  string
	}{
		{"cert only", &Credentials{TLSCert: crt}, "the secret has tls.crt but no tls.key"},
		{"key only", &Credentials{TLSKey: key}, "the secret has tls.key but no tls.crt"},
		{"mismatched", &Credentials{TLSCert: crt, TLSKey: otherKey}, "tls.crt and tls.key are not a PEM client certificate and its private key"},
		{"key in tls.crt", &Credentials{TLSCert: key, TLSKey: key}, "tls.crt and tls.key are not a PEM client certificate and its private key"},
		{"no ca", &Credentials{CACert: []byte("not a certificate")}, "ca.crt holds no PEM certificate"},
		{"bad proxy", &Credentials{Proxy: "http://user:pass word@proxy:3128"}, "the secret's proxy is not a URL like http://proxy.example:3128"},
		{"proxy scheme", &Credentials{Proxy: "ftp://user:s3cret-pw@proxy:21"}, "the secret's proxy, ftp://proxy:21: the scheme must be http, https or socks5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.creds.authMethod(u)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "PRIVATE KEY")
			assert.NotContains(t, err.Error(), "s3cret-pw")
			assert.NotContains(t, err.Error(), "pass word")
		})
	}

	// Through the repository, it is a credentials failure.
	err := syncOnce(t, "https://"+gitHost+"/repo.git", &Credentials{TLSCert: crt, TLSKey: otherKey})
	require.Error(t, err)
	assert.Equal(t, ReasonAuthFailed, delivery.ReasonOf(err, ""))
	assert.NotContains(t, err.Error(), string(otherKey))
}

// Test_Auth_proxy: the secret's proxy carries the fetch and the push (with its basic
// authentication, never shown); a proxy that refuses or is not there is named in the error.
func Test_Auth_proxy(t *testing.T) {
	srv := newServer(t)
	ca := newPKI(t, "ca")
	front := newHTTPSFront(t, srv, ca, nil)
	proxy := newConnectProxy(t, "proxy-user", "proxy-pa55word", false)
	pu, err := url.Parse(proxy.url)
	require.NoError(t, err)
	withAuth := "http://proxy-user:proxy-pa55word@" + pu.Host
	creds := CredentialsFromSecret(map[string][]byte{"username": []byte(user), "password": []byte(password),
		"ca.crt": ca.pem, "proxy": []byte(withAuth + "\n")})
	r := seeded(t, srv, "proxied.git", "https://"+gitHost+":"+front.port, creds)
	pushThrough(t, r, front)
	require.NotEmpty(t, proxy.seen())
	for _, host := range proxy.seen() {
		assert.Equal(t, gitHost+":"+front.port, host)
	}

	// The proxy refuses the password: 407, the password not shown.
	err = syncOnce(t, r.url, &Credentials{Username: user, Password: password, CACert: ca.pem, Proxy: "http://proxy-user:wrong-pa55word@" + pu.Host})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the proxy http://"+pu.Host+" (from the secret's proxy) refused the tunnel to "+gitHost+":"+front.port+": 407 Proxy Authentication Required")
	assert.NotContains(t, err.Error(), "wrong-pa55word")

	// A proxy that refuses every tunnel.
	refusing := newConnectProxy(t, "", "", true)
	err = syncOnce(t, r.url, &Credentials{CACert: ca.pem, Proxy: refusing.url})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the proxy "+refusing.url+" (from the secret's proxy) refused the tunnel to "+gitHost+":"+front.port+": 403 Forbidden")
	assert.Equal(t, []string{gitHost + ":" + front.port}, refusing.seen())

	// No proxy there.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	gone := "http://" + l.Addr().String()
	require.NoError(t, l.Close())
	err = syncOnce(t, r.url, &Credentials{CACert: ca.pem, Proxy: gone})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the proxy "+gone+" (from the secret's proxy) failed: proxyconnect tcp")
	assert.Equal(t, ReasonPushFailed, delivery.ReasonOf(err, ""))
}

// Test_Auth_proxyFromEnvironment: without the secret's proxy, HTTPS_PROXY is used, and
// NO_PROXY is honoured; the environment is read at each request.
func Test_Auth_proxyFromEnvironment(t *testing.T) {
	srv := newServer(t)
	ca := newPKI(t, "ca")
	front := newHTTPSFront(t, srv, ca, nil)
	proxy := newConnectProxy(t, "", "", false)
	for _, k := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"} {
		t.Setenv(k, "")
	}
	t.Setenv("HTTPS_PROXY", proxy.url)
	creds := &Credentials{Username: user, Password: password, CACert: ca.pem}
	r := seeded(t, srv, "env.git", "https://"+gitHost+":"+front.port, creds)
	pushThrough(t, r, front)
	n := len(proxy.seen())
	require.NotZero(t, n)

	t.Setenv("NO_PROXY", gitHost)
	require.Error(t, syncOnce(t, r.url, creds)) // straight to git.test, which resolves nowhere
	assert.Len(t, proxy.seen(), n, "NO_PROXY: the proxy is not used")

	t.Setenv("NO_PROXY", "")
	t.Setenv("HTTPS_PROXY", newConnectProxy(t, "", "", true).url)
	err := syncOnce(t, r.url, creds)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "(from the environment) refused the tunnel")
}

// sshServer is gittestserver's SSH server holding an ed25519, an ECDSA and an RSA host key.
func sshServer(t *testing.T) (*gittestserver.GitServer, string, map[string]ssh.PublicKey) {
	t.Helper()
	srv, err := gittestserver.NewTempGitServer()
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(srv.Root()) })
	cfg := &ssh.ServerConfig{}
	keys := map[string]ssh.PublicKey{}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	for _, k := range []any{edKey, ecKey} {
		signer, err := ssh.NewSignerFromKey(k)
		require.NoError(t, err)
		cfg.AddHostKey(signer)
		keys[signer.PublicKey().Type()] = signer.PublicKey()
	}
	keyDir := t.TempDir()
	srv.WithSSHConfig(cfg).KeyDir(keyDir) // gitkit adds an RSA host key of its own, kept here
	require.NoError(t, srv.ListenSSH())
	go func() { _ = srv.StartSSH() }()
	t.Cleanup(func() { _ = srv.StopSSH() })
	rsaPub, err := os.ReadFile(filepath.Join(keyDir, "gitkit.rsa.pub"))
	require.NoError(t, err)
	pub, _, _, _, err := ssh.ParseAuthorizedKey(rsaPub)
	require.NoError(t, err)
	keys[pub.Type()] = pub
	require.Len(t, keys, 3)
	return srv, strings.TrimPrefix(srv.SSHAddress(), "ssh://git@"), keys
}

// Test_Auth_sshHostKeys: a server with several host keys is verified against the one in
// known_hosts, whichever it is, even when known_hosts holds other hosts' keys of other types;
// an unknown host or a changed key is refused.
func Test_Auth_sshHostKeys(t *testing.T) {
	srv, addr, keys := sshServer(t)
	testutil.Git(t, "", "init", "--quiet", "--bare", "-b", "main", filepath.Join(srv.Root(), "keys.git"))
	rawURL := srv.SSHAddress() + "/keys.git"
	identity := clientKey(t)
	line := func(host string, k ssh.PublicKey) string {
		return knownhosts.Line([]string{knownhosts.Normalize(host)}, k) + "\n"
	}
	_, stranger, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	strangerSigner, err := ssh.NewSignerFromKey(stranger)
	require.NoError(t, err)
	for typ, k := range keys {
		t.Run(typ, func(t *testing.T) {
			// Another host's key of every other type comes first.
			var kh strings.Builder
			for other, ok := range keys {
				if other != typ {
					kh.WriteString(line("other.example:22", ok))
				}
			}
			kh.WriteString(line(addr, k))
			require.NoError(t, syncOnce(t, rawURL, &Credentials{Identity: identity, KnownHosts: []byte(kh.String())}))
		})
	}

	err = syncOnce(t, rawURL, &Credentials{Identity: identity, KnownHosts: []byte(line("other.example", keys[ssh.KeyAlgoED25519]))})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "knownhosts: "+addr+" is not in known_hosts (it shows the host key ")
	assert.Equal(t, ReasonAuthFailed, delivery.ReasonOf(err, ""))

	err = syncOnce(t, rawURL, &Credentials{Identity: identity, KnownHosts: []byte(line(addr, strangerSigner.PublicKey()))})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "knownhosts: the host key of "+addr+", ssh-ed25519 "+ssh.FingerprintSHA256(keys[ssh.KeyAlgoED25519])+", is not the one in known_hosts (ssh-ed25519 "+ssh.FingerprintSHA256(strangerSigner.PublicKey())+")")
	assert.Equal(t, ReasonAuthFailed, delivery.ReasonOf(err, ""))
}

// Test_Auth_hostKeyAlgorithms: the algorithms offered are those of the entries for the host
// (patterns, hashed names, ports, certificate authorities; revoked keys left out), strongest
// first, RSA by SHA-2 before SHA-1.
func Test_Auth_hostKeyAlgorithms(t *testing.T) {
	signer := func(k any) ssh.PublicKey {
		s, err := ssh.NewSignerFromKey(k)
		require.NoError(t, err)
		return s.PublicKey()
	}
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	ec, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	edPub, ecPub, rsaPub := signer(ed), signer(ec), signer(rk)
	entry := func(marker, hosts string, k ssh.PublicKey) string {
		s := hosts + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
		if marker != "" {
			s = marker + " " + s
		}
		return s + "\n"
	}
	hashed := knownhosts.HashHostname(knownhosts.Normalize("git.example.com:2222"))
	for _, tc := range []struct {
		name, data, addr string
		want             []string
	}{
		{"rsa only", entry("", "git.example.com", rsaPub), "git.example.com:22",
			[]string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}},
		{"per host", entry("", "other.example.com", edPub) + entry("", "git.example.com", ecPub), "git.example.com:22",
			[]string{ssh.KeyAlgoECDSA384}},
		{"several for the host", entry("", "git.example.com", rsaPub) + entry("", "git.example.com,10.0.0.1", edPub), "git.example.com:22",
			[]string{ssh.KeyAlgoED25519, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}},
		{"port", entry("", "[git.example.com]:2222", edPub) + entry("", "git.example.com", ecPub), "git.example.com:2222",
			[]string{ssh.KeyAlgoED25519}},
		{"hashed", entry("", hashed, ecPub) + entry("", "git.example.com", edPub), "git.example.com:2222",
			[]string{ssh.KeyAlgoECDSA384}},
		{"wildcard", entry("", "*.example.com", edPub), "git.example.com:22", []string{ssh.KeyAlgoED25519}},
		{"negated", entry("", "*.example.com,!git.example.com", edPub), "git.example.com:22", nil},
		{"revoked", entry("@revoked", "*", ecPub) + entry("", "git.example.com", edPub), "git.example.com:22", []string{ssh.KeyAlgoED25519}},
		{"cert authority", entry("@cert-authority", "*.example.com", edPub), "git.example.com:22", certAlgorithms},
		{"none", entry("", "other.example.com", edPub), "git.example.com:22", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := hostKeyAlgorithms([]byte(tc.data), tc.addr)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			_, _, err = hostKeyCheck([]byte(tc.data), tc.addr)
			require.NoError(t, err)
		})
	}
	_, _, err := hostKeyCheck([]byte("git.example.com ssh-ed25519 not-base64!\n"), "git.example.com:22")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "read known_hosts")
}

// Test_Auth_credentialsFromSecret: the keys of a Flux secret, caFile as Flux's older name of
// ca.crt; the TLS key and the proxy's password are kept out of messages.
func Test_Auth_credentialsFromSecret(t *testing.T) {
	c := CredentialsFromSecret(map[string][]byte{
		"username": []byte("u"), "password": []byte("p4ssword"), "bearerToken": []byte("t0ken-x"),
		"identity": []byte("id"), "known_hosts": []byte("kh"), "caFile": []byte("ca-old"),
		"tls.crt": []byte("crt"), "tls.key": []byte("tls-key-material"), "proxy": []byte(" http://pu:proxy-pw@p:3128\n"),
	})
	assert.Equal(t, &Credentials{Username: "u", Password: "p4ssword", BearerToken: "t0ken-x", Identity: []byte("id"), KnownHosts: []byte("kh"),
		CACert: []byte("ca-old"), TLSCert: []byte("crt"), TLSKey: []byte("tls-key-material"), Proxy: "http://pu:proxy-pw@p:3128"}, c)
	assert.Equal(t, []byte("ca-new"), CredentialsFromSecret(map[string][]byte{"ca.crt": []byte("ca-new"), "caFile": []byte("ca-old")}).CACert)
	assert.ElementsMatch(t, []string{"p4ssword", "t0ken-x", "tls-key-material", "proxy-pw"}, c.secrets())
	assert.Equal(t, "proxy-pw", proxyPassword("pu:proxy-pw@p:3128"))
	assert.Equal(t, "", proxyPassword("http://p:"+strconv.Itoa(3128)))
}

// Test_Auth_otherClientsUnchanged: go-git used with its own authentication, as anything else
// in the process may, still goes through go-git's HTTP client.
func Test_Auth_otherClientsUnchanged(t *testing.T) {
	srv := newServer(t)
	r := seeded(t, srv, "plain.git", srv.HTTPAddress(), nil)
	rem := git.NewRemote(memory.NewStorage(), &config.RemoteConfig{Name: "origin", URLs: []string{r.url}})
	refs, err := rem.List(&git.ListOptions{Auth: &githttp.BasicAuth{Username: user, Password: password}})
	require.NoError(t, err)
	assert.NotEmpty(t, refs)
	_, err = rem.List(&git.ListOptions{})
	assert.ErrorIs(t, err, transport.ErrAuthenticationRequired)
}
