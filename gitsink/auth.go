package gitsink

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
)

// Credentials are what a Flux GitRepository secret holds, under the same key names.
type Credentials struct {
	// Username and Password: HTTP basic authentication (`username`, `password`).
	Username, Password string
	// BearerToken: HTTP bearer token authentication (`bearerToken`).
	BearerToken string
	// Identity is a PEM private key for SSH (`identity`); Password is its passphrase.
	Identity []byte
	// KnownHosts are the SSH host keys to trust (`known_hosts`); SSH needs them.
	KnownHosts []byte
	// CACert is a PEM CA bundle for HTTPS (`ca.crt`, else Flux's older `caFile`), trusted
	// besides the system's.
	CACert []byte
	// TLSCert and TLSKey are the PEM client certificate and its key for HTTPS with mutual
	// TLS (`tls.crt`, `tls.key`): both or neither.
	TLSCert, TLSKey []byte
	// Proxy is the URL of the HTTP(S) proxy (`proxy`, e.g. http://user:password@proxy:3128);
	// empty: the environment's (HTTPS_PROXY, HTTP_PROXY, NO_PROXY).
	Proxy string
}

// CredentialsFromSecret reads the keys of a Flux GitRepository secret.
func CredentialsFromSecret(data map[string][]byte) *Credentials {
	ca := data["ca.crt"]
	if len(ca) == 0 {
		ca = data["caFile"]
	}
	return &Credentials{
		Username: string(data["username"]), Password: string(data["password"]),
		BearerToken: string(data["bearerToken"]),
		Identity:    data["identity"], KnownHosts: data["known_hosts"], CACert: ca,
		TLSCert: data["tls.crt"], TLSKey: data["tls.key"],
		Proxy: strings.TrimSpace(string(data["proxy"])),
	}
}

// CredentialsFunc returns the current credentials (nil for none); it is called before each
// exchange with the remote, so a rotated secret takes effect without a restart.
type CredentialsFunc func(ctx context.Context) (*Credentials, error)

// secrets lists the values that must never appear in a message.
func (c *Credentials) secrets() []string {
	if c == nil {
		return nil
	}
	var out []string
	for _, s := range []string{c.Password, c.BearerToken, string(c.Identity), string(c.TLSKey), proxyPassword(c.Proxy)} {
		if len(s) >= 4 {
			out = append(out, s)
		}
	}
	return out
}

// authMethod turns credentials into go-git's authentication for the URL's scheme. Over
// HTTP(S) it also carries the TLS and proxy settings, for every request of a fetch or a push
// (see httpAuth), with or without credentials.
func (c *Credentials) authMethod(u *url.URL) (transport.AuthMethod, error) {
	switch u.Scheme {
	case "http", "https":
		if c == nil {
			c = &Credentials{}
		}
		return c.httpAuth()
	case "ssh":
		if c == nil {
			return nil, nil
		}
		if len(c.Identity) == 0 {
			return nil, errors.New("ssh needs an identity (private key) in the secret")
		}
		user := u.User.Username()
		if user == "" {
			user = "git"
		}
		keys, err := gitssh.NewPublicKeys(user, c.Identity, c.Password)
		if err != nil {
			return nil, fmt.Errorf("read the ssh identity: %w", err)
		}
		if len(c.KnownHosts) == 0 {
			return nil, errors.New("ssh needs known_hosts in the secret: host keys are always checked")
		}
		port := u.Port()
		if port == "" {
			port = "22"
		}
		cb, algos, err := hostKeyCheck(c.KnownHosts, net.JoinHostPort(u.Hostname(), port))
		if err != nil {
			return nil, err
		}
		keys.HostKeyCallback = cb
		keys.HostKeyAlgorithms = algos
		return keys, nil
	}
	return nil, nil
}

// RedactURL returns a URL without its user info, fit for logs, events and errors.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		if i := strings.Index(raw, "@"); i >= 0 && !strings.Contains(raw, "://") {
			return raw[i+1:] // scp-like user@host:path
		}
		return raw
	}
	u.User = nil
	return u.String()
}

// splitUserInfo removes the user info of a URL, returning it as credentials (a password in a
// URL is taken, then never shown again).
func splitUserInfo(raw string) (string, *url.URL, *Credentials, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", nil, nil, fmt.Errorf("git URL %q: %w", RedactURL(raw), errors.Unwrap(err))
	}
	switch u.Scheme {
	case "http", "https", "ssh", "file", "git":
	default:
		return "", nil, nil, fmt.Errorf("git URL %q: scheme must be https, http, ssh, git or file", RedactURL(raw))
	}
	var creds *Credentials
	if u.User != nil && u.Scheme != "ssh" {
		p, _ := u.User.Password()
		creds = &Credentials{Username: u.User.Username(), Password: p}
		u.User = nil
	}
	return u.String(), u, creds, nil
}

// sanitize removes every secret from an error's message.
func sanitize(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := msg
	for _, s := range secrets {
		clean = strings.ReplaceAll(clean, s, "***")
	}
	if clean == msg {
		return err
	}
	return &sanitized{msg: clean, err: err}
}

// sanitized is an error whose message was cleaned; errors.Is still sees the original.
type sanitized struct {
	msg string
	err error
}

func (s *sanitized) Error() string { return s.msg }
func (s *sanitized) Unwrap() error { return s.err }
