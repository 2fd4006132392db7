package gitsink

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"golang.org/x/net/http/httpproxy"
)

// Every exchange with an HTTP(S) remote, whether go-git's own (listing the branches,
// fetching) or the push of push.go, gets its transport from go-git's protocol table. The
// entries for http and https are wrapped, once, here: a session whose authentication is an
// httpAuth goes through the HTTP client of its credentials (CA, client certificate, proxy);
// any other is handed to go-git's client unchanged.
func init() {
	for _, scheme := range []string{"http", "https"} {
		fallback := client.Protocols[scheme]
		if fallback == nil {
			fallback = githttp.DefaultClient
		}
		client.InstallProtocol(scheme, &httpProtocol{fallback: fallback})
	}
}

// httpAuth is go-git's HTTP authentication (basic, bearer token or none) with the connection
// settings of the same credentials. Outside gitsink's protocol entry it is a plain
// githttp.AuthMethod.
type httpAuth struct {
	inner githttp.AuthMethod // nil: no authentication header
	conn  *httpConn
}

func (a *httpAuth) Name() string {
	if a.inner == nil {
		return "http-none"
	}
	return a.inner.Name()
}

func (a *httpAuth) String() string {
	if a.inner == nil {
		return a.Name()
	}
	return a.inner.String() // go-git's masks the password
}

func (a *httpAuth) SetAuth(r *http.Request) {
	if a.inner != nil {
		a.inner.SetAuth(r)
	}
}

// innerAuth is the authentication to give go-git's client (an untyped nil for none).
func (a *httpAuth) innerAuth() transport.AuthMethod {
	if a.inner == nil {
		return nil
	}
	return a.inner
}

// endpoint is ep without the CA bundle the caller copied from the same credentials: the
// client already trusts it (else go-git would build a new transport for each session).
func (a *httpAuth) endpoint(ep *transport.Endpoint) (*transport.Endpoint, error) {
	e := *ep
	if string(e.CaBundle) == string(a.conn.ca) {
		e.CaBundle = nil
	}
	if len(e.CaBundle) > 0 || len(e.ClientCert) > 0 || len(e.ClientKey) > 0 || e.InsecureSkipTLS || e.Proxy.URL != "" {
		return nil, errors.New("gitsink: TLS and proxy settings come from the credentials, not from the endpoint")
	}
	return &e, nil
}

// httpProtocol is go-git's transport for http and https, honouring httpAuth.
type httpProtocol struct{ fallback transport.Transport }

func (p *httpProtocol) NewUploadPackSession(ep *transport.Endpoint, auth transport.AuthMethod) (transport.UploadPackSession, error) {
	a, ok := auth.(*httpAuth)
	if !ok {
		return p.fallback.NewUploadPackSession(ep, auth)
	}
	e, err := a.endpoint(ep)
	if err != nil {
		return nil, err
	}
	return a.conn.client.NewUploadPackSession(e, a.innerAuth())
}

func (p *httpProtocol) NewReceivePackSession(ep *transport.Endpoint, auth transport.AuthMethod) (transport.ReceivePackSession, error) {
	a, ok := auth.(*httpAuth)
	if !ok {
		return p.fallback.NewReceivePackSession(ep, auth)
	}
	e, err := a.endpoint(ep)
	if err != nil {
		return nil, err
	}
	return a.conn.client.NewReceivePackSession(e, a.innerAuth())
}

// httpAuth returns the HTTP authentication and connection of the credentials.
func (c *Credentials) httpAuth() (*httpAuth, error) {
	a := &httpAuth{}
	switch {
	case c.BearerToken != "":
		a.inner = &githttp.TokenAuth{Token: c.BearerToken}
	case c.Username != "" || c.Password != "":
		a.inner = &githttp.BasicAuth{Username: c.Username, Password: c.Password}
	}
	conn, err := httpConns.get(c)
	if err != nil {
		return nil, err
	}
	a.conn = conn
	return a, nil
}

// httpConn is an HTTP client for one set of connection settings. It is kept across
// exchanges, so that its connections are reused (go-git's own client makes a transport, and
// new connections, for each session with a CA bundle).
type httpConn struct {
	ca     []byte
	client transport.Transport // go-git's HTTP client over rt
	rt     http.RoundTripper   // tr, with errors that say what failed
	tr     *http.Transport
}

// HTTPTransport returns the HTTP transport of the credentials' connection settings (ca.crt,
// tls.crt/tls.key, proxy, else the proxy environment), the one git's own exchanges use: a
// forge's API is reached the way its Git remote is.
func (c *Credentials) HTTPTransport() (http.RoundTripper, error) {
	conn, err := httpConns.get(c)
	if err != nil {
		return nil, err
	}
	return conn.rt, nil
}

// httpConns keeps the clients of the last few connection settings (a rotated secret makes
// new ones; the oldest are closed).
var httpConns = &connCache{max: 8, m: map[[sha256.Size]byte]*httpConn{}}

type connCache struct {
	mu    sync.Mutex
	max   int
	m     map[[sha256.Size]byte]*httpConn
	order [][sha256.Size]byte
}

func (cc *connCache) get(c *Credentials) (*httpConn, error) {
	key := connKey(c)
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if conn, ok := cc.m[key]; ok {
		return conn, nil
	}
	conn, err := newHTTPConn(c)
	if err != nil {
		return nil, err
	}
	if len(cc.order) >= cc.max {
		old := cc.order[0]
		cc.order = cc.order[1:]
		cc.m[old].tr.CloseIdleConnections()
		delete(cc.m, old)
	}
	cc.m[key] = conn
	cc.order = append(cc.order, key)
	return conn, nil
}

// connKey is a digest of the connection settings of the credentials.
func connKey(c *Credentials) [sha256.Size]byte {
	h := sha256.New()
	for _, b := range [][]byte{c.CACert, c.TLSCert, c.TLSKey, []byte(c.Proxy)} {
		_ = binary.Write(h, binary.BigEndian, uint64(len(b)))
		h.Write(b)
	}
	var k [sha256.Size]byte
	copy(k[:], h.Sum(nil))
	return k
}

// newHTTPConn builds the client of the connection settings, checking them.
func newHTTPConn(c *Credentials) (*httpConn, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(c.CACert) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(c.CACert) {
			return nil, errors.New("ca.crt holds no PEM certificate")
		}
		cfg.RootCAs = pool
	}
	switch {
	case len(c.TLSCert) > 0 && len(c.TLSKey) == 0:
		return nil, errors.New("the secret has tls.crt but no tls.key: a client certificate needs both")
	case len(c.TLSCert) == 0 && len(c.TLSKey) > 0:
		return nil, errors.New("the secret has tls.key but no tls.crt: a client certificate needs both")
	case len(c.TLSCert) > 0:
		pair, err := tls.X509KeyPair(c.TLSCert, c.TLSKey)
		if err != nil {
			// The message of crypto/tls never holds the key; it is removed from messages anyway.
			return nil, fmt.Errorf("tls.crt and tls.key are not a PEM client certificate and its private key: %w", err)
		}
		// Sent whenever the server asks, as git does (Go's own choice would send nothing when
		// the server names other CAs, and the server's refusal would not say why).
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil }
	}

	var tr *http.Transport
	if base, ok := http.DefaultTransport.(*http.Transport); ok {
		tr = base.Clone()
	} else {
		tr = &http.Transport{
			DialContext:       (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2: true, MaxIdleConns: 100, IdleConnTimeout: 90 * time.Second,
			TLSHandshakeTimeout: 10 * time.Second, ExpectContinueTimeout: time.Second,
		}
	}
	tr.TLSClientConfig = cfg
	source := "from the environment"
	if c.Proxy != "" {
		u, err := parseProxy(c.Proxy)
		if err != nil {
			return nil, err
		}
		source = "from the secret's proxy"
		tr.Proxy = http.ProxyURL(u)
	} else {
		// The environment is read at each request: http.ProxyFromEnvironment reads it once for
		// the process.
		tr.Proxy = func(r *http.Request) (*url.URL, error) { return httpproxy.FromEnvironment().ProxyFunc()(r.URL) }
	}
	tr.OnProxyConnectResponse = func(_ context.Context, proxy *url.URL, req *http.Request, res *http.Response) error {
		if res.StatusCode == http.StatusOK {
			return nil
		}
		return &proxyError{proxy: redactedURL(proxy), source: source, target: req.Host, status: res.Status}
	}
	rt := &explainingTransport{tr: tr, clientCert: cfg.GetClientCertificate != nil, proxySource: source}
	return &httpConn{ca: c.CACert, client: githttp.NewClient(&http.Client{Transport: rt}), rt: rt, tr: tr}, nil
}

// parseProxy reads the proxy URL of the secret: http, https or socks5; without a scheme,
// http (as in HTTPS_PROXY).
func parseProxy(raw string) (*url.URL, error) {
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		// Not shown: it may hold a password that could not be told apart.
		return nil, errors.New("the secret's proxy is not a URL like http://proxy.example:3128")
	}
	switch u.Scheme {
	case "http", "https", "socks5", "socks5h":
		return u, nil
	}
	return nil, fmt.Errorf("the secret's proxy, %s: the scheme must be http, https or socks5", redactedURL(u))
}

// proxyPassword is the password in a proxy URL ("" for none), to keep out of messages.
func proxyPassword(raw string) string {
	if raw == "" {
		return ""
	}
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return ""
	}
	p, _ := u.User.Password()
	return p
}

func redactedURL(u *url.URL) string {
	if u == nil {
		return "none"
	}
	c := *u
	c.User = nil
	return c.String()
}

// explainingTransport says what failed when the proxy or the server's TLS refused a request.
type explainingTransport struct {
	tr          *http.Transport
	clientCert  bool
	proxySource string
}

func (t *explainingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := t.tr.RoundTrip(req)
	if err != nil {
		return nil, t.explain(req, err)
	}
	return res, nil
}

func (t *explainingTransport) explain(req *http.Request, err error) error {
	var pe *proxyError
	if errors.As(err, &pe) {
		return err
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "proxyconnect" {
		proxy, _ := t.tr.Proxy(req)
		return &proxyError{proxy: redactedURL(proxy), source: t.proxySource, err: err}
	}
	// An alert the server sent about the client's certificate (or its absence).
	if msg := err.Error(); strings.Contains(msg, "remote error: tls: ") && strings.Contains(msg[strings.Index(msg, "remote error: tls: "):], "certificate") {
		return &clientCertError{sent: t.clientCert, err: err}
	}
	return err
}

// proxyError is a request the proxy did not carry.
type proxyError struct {
	proxy, source, target, status string
	err                           error
}

func (e *proxyError) Error() string {
	if e.status != "" {
		return fmt.Sprintf("the proxy %s (%s) refused the tunnel to %s: %s", e.proxy, e.source, e.target, e.status)
	}
	return fmt.Sprintf("the proxy %s (%s) failed: %v", e.proxy, e.source, e.err)
}

func (e *proxyError) Unwrap() error { return e.err }

// clientCertError is a server that refused the client's certificate; it counts as refused
// credentials.
type clientCertError struct {
	sent bool
	err  error
}

func (e *clientCertError) Error() string {
	if !e.sent {
		return "the server wants a client certificate, and the secret has none (tls.crt, tls.key): " + e.err.Error()
	}
	return "the server refused the client certificate of tls.crt: " + e.err.Error()
}

func (e *clientCertError) Unwrap() []error {
	return []error{e.err, transport.ErrAuthenticationRequired}
}
