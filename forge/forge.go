// Package forge opens and follows the pull request of git mode's push branch, and posts commit
// statuses, on GitHub, GitLab or Gitea through each forge's maintained Go client. Calls are
// made one at a time (the forges' secondary rate limits punish concurrency), and a call the
// forge refuses for its rate limit is retried after the time it asks for.
package forge

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Kinds of forges.
const (
	GitHub = "github"
	GitLab = "gitlab"
	Gitea  = "gitea"
)

// States of a pull request.
const (
	StateOpen   = "open"
	StateMerged = "merged"
	StateClosed = "closed"
)

// States of a commit status.
const (
	StatusPending = "pending"
	StatusSuccess = "success"
	StatusFailure = "failure"
)

// PullRequest is a pull (or merge) request on the forge.
type PullRequest struct {
	Number int64
	URL    string
	// State is StateOpen, StateMerged or StateClosed.
	State string
}

// Change is what a pull request proposes.
type Change struct {
	Head, Base  string
	Title, Body string
}

// Status is a commit status (a check) on one commit.
type Status struct {
	// Context names the status: one per trench, "meridio/<namespace>/<trench>".
	Context     string
	State       string // StatusPending, StatusSuccess or StatusFailure
	Description string
	TargetURL   string
}

// Client is one repository on one forge.
type Client interface {
	// EnsurePullRequest opens the pull request of c, or updates the open one from c.Head to
	// c.Base (there is never a second).
	EnsurePullRequest(ctx context.Context, c Change) (PullRequest, error)
	// GetPullRequest reads a pull request's state.
	GetPullRequest(ctx context.Context, number int64) (PullRequest, error)
	// SetStatus posts a status on a commit.
	SetStatus(ctx context.Context, sha string, s Status) error
}

// Config says how to reach a forge.
type Config struct {
	// Kind is GitHub, GitLab or Gitea; empty: detected from the repository's host.
	Kind string
	// RepoURL is the Git URL of the repository (https:// or ssh://).
	RepoURL string
	// APIURL overrides the API's base URL (GitHub Enterprise, self-hosted GitLab or Gitea):
	// by default https://api.github.com, https://<host>/api/v4 and https://<host>/.
	APIURL string
	// Token authenticates the calls; it is read before each call, so a rotated one is used.
	Token func(ctx context.Context) (string, error)
	// CACert is a PEM CA bundle for the API (nil: the system's); ignored with Transport.
	CACert []byte
	// Transport makes the API calls (nil: one of CACert, through the proxy of the
	// environment); the git sink gives the one of its credentials (CA, client certificate,
	// proxy), so that the API is reached the way the Git remote is.
	Transport http.RoundTripper
	// MaxWait bounds how long a rate-limited call waits before it is retried (default 1 min).
	MaxWait time.Duration
}

// Detect names the forge of a repository URL's host where it is obvious ("" when not).
func Detect(repoURL string) string {
	u, err := url.Parse(repoURL)
	if err != nil {
		return ""
	}
	host := strings.ToLower(u.Hostname())
	switch {
	case host == "github.com" || strings.HasSuffix(host, ".github.com"):
		return GitHub
	case host == "gitlab.com" || strings.HasPrefix(host, "gitlab."):
		return GitLab
	case host == "codeberg.org" || strings.HasPrefix(host, "gitea."):
		return Gitea
	}
	return ""
}

// New returns the client of the repository's forge.
func New(cfg Config) (Client, error) {
	kind := cfg.Kind
	if kind == "" || kind == "auto" {
		if kind = Detect(cfg.RepoURL); kind == "" {
			return nil, fmt.Errorf("cannot tell the forge of %s from its host: name it (github, gitlab or gitea)", cfg.RepoURL)
		}
	}
	u, err := url.Parse(cfg.RepoURL)
	if err != nil {
		return nil, fmt.Errorf("forge: repository URL: %w", err)
	}
	path := strings.TrimSuffix(strings.Trim(u.Path, "/"), ".git")
	if strings.Count(path, "/") < 1 {
		return nil, fmt.Errorf("forge: %s names no owner/repository", cfg.RepoURL)
	}
	if cfg.MaxWait == 0 {
		cfg.MaxWait = time.Minute
	}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: cfg.Transport}
	if cfg.Transport == nil && len(cfg.CACert) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(cfg.CACert) {
			return nil, errors.New("forge: ca.crt holds no PEM certificate")
		}
		hc.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, Proxy: http.ProxyFromEnvironment}
	}
	scheme := "https"
	if u.Scheme == "http" {
		scheme = "http"
	}
	c := &client{base: base{cfg: cfg, hc: hc, host: scheme + "://" + u.Host, kind: kind, name: path}}
	switch kind {
	case GitHub:
		owner, repo, _ := strings.Cut(path, "/")
		c.connect = func(ctx context.Context, token string) (session, error) {
			return connectGitHub(c.base, token, owner, repo)
		}
	case GitLab:
		c.connect = func(ctx context.Context, token string) (session, error) { return connectGitLab(c.base, token, path) }
	case Gitea:
		// A Gitea served under a sub-path has the repository's last two segments after it.
		i := strings.LastIndex(path, "/")
		j := strings.LastIndex(path[:i], "/")
		prefix, owner := "", path[:i]
		if j >= 0 {
			prefix, owner = "/"+path[:j], path[j+1:i]
		}
		c.host += prefix
		c.connect = func(ctx context.Context, token string) (session, error) {
			return connectGitea(ctx, c.base, token, owner, path[i+1:])
		}
	default:
		return nil, fmt.Errorf("forge %q: want github, gitlab or gitea", kind)
	}
	return c, nil
}

// session is one forge's API, connected with the token read for one call of a Client
// method. Its errors are RateLimited when the forge refuses a call for its rate limit.
type session interface {
	// findOpen returns the open pull request from ch.Head to ch.Base, nil when there is none.
	findOpen(ctx context.Context, ch Change) (*openPR, error)
	edit(ctx context.Context, number int64, ch Change) (PullRequest, error)
	create(ctx context.Context, ch Change) (PullRequest, error)
	get(ctx context.Context, number int64) (PullRequest, error)
	setStatus(ctx context.Context, sha string, s Status) error
}

// client is a Client on any of the three forges: each one only connects a session.
type client struct {
	base
	mu      sync.Mutex
	connect func(ctx context.Context, token string) (session, error)
}

// with runs f on a session connected with the current token, as one call (see call).
func (c *client) with(ctx context.Context, what string, f func(session) error) error {
	return c.call(ctx, what, func() error {
		token, err := c.token(ctx)
		if err != nil {
			return err
		}
		s, err := c.connect(ctx, token)
		if err != nil {
			return err
		}
		return f(s)
	})
}

// EnsurePullRequest finds the open pull request of the change; leaves it when it already says
// the same, else updates it; opens one when there is none.
func (c *client) EnsurePullRequest(ctx context.Context, ch Change) (PullRequest, error) {
	var out PullRequest
	err := c.with(ctx, "open or update the pull request "+ch.Head+" -> "+ch.Base, func(s session) error {
		open, err := s.findOpen(ctx, ch)
		switch {
		case err != nil:
		case open == nil:
			out, err = s.create(ctx, ch)
		case open.title == ch.Title && open.body == ch.Body:
			out = open.pr
		default:
			out, err = s.edit(ctx, open.pr.Number, ch)
		}
		return err
	})
	return out, err
}

// GetPullRequest reads a pull request's state.
func (c *client) GetPullRequest(ctx context.Context, number int64) (PullRequest, error) {
	var out PullRequest
	err := c.with(ctx, fmt.Sprintf("read pull request %d", number), func(s session) (err error) {
		out, err = s.get(ctx, number)
		return err
	})
	return out, err
}

// SetStatus posts a status on a commit.
func (c *client) SetStatus(ctx context.Context, sha string, st Status) error {
	return c.with(ctx, "set status "+st.Context+" on "+sha, func(s session) error { return s.setStatus(ctx, sha, st) })
}

// base is what the sessions of the three forges need: the configuration and how to reach the
// API.
type base struct {
	cfg  Config
	hc   *http.Client
	host string // scheme://host of the repository
	kind string
	name string // the repository's path on the forge
}

// apiURL is the configured API URL, or def.
func (b base) apiURL(def string) string {
	if b.cfg.APIURL != "" {
		return strings.TrimSuffix(b.cfg.APIURL, "/")
	}
	return def
}

func (c *client) token(ctx context.Context) (string, error) {
	if c.cfg.Token == nil {
		return "", errors.New("no API token: the Git Secret needs password or bearerToken")
	}
	t, err := c.cfg.Token(ctx)
	if err == nil && t == "" {
		err = errors.New("no API token: the Git Secret needs password or bearerToken")
	}
	return t, err
}

// RateLimited is a call the forge refused for its rate limit.
type RateLimited struct {
	// RetryAfter is how long the forge asked to wait (0: not said).
	RetryAfter time.Duration
	Err        error
}

func (e *RateLimited) Error() string { return "rate limited: " + e.Err.Error() }
func (e *RateLimited) Unwrap() error { return e.Err }

// call runs f alone, and again, up to three times, after the wait a rate limit asks for (with
// backoff when it names none), within MaxWait.
// Its errors say what was asked of which repository.
func (c *client) call(ctx context.Context, what string, f func() error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	wait := time.Second
	for attempt := 1; ; attempt++ {
		err := f()
		var rl *RateLimited
		if !errors.As(err, &rl) || attempt == 3 {
			return c.wrap(what, err)
		}
		d := rl.RetryAfter
		if d <= 0 {
			d, wait = wait, 2*wait
		}
		if d > c.cfg.MaxWait {
			return c.wrap(what, err)
		}
		select {
		case <-ctx.Done():
			return c.wrap(what, err)
		case <-time.After(d):
		}
	}
}

func (c *client) wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %s of %s: %w", c.kind, what, c.name, err)
}

// retryAfter reads a Retry-After header in seconds (0 when absent or not a number of seconds).
func retryAfter(h http.Header) time.Duration {
	var s int
	if _, err := fmt.Sscanf(h.Get("Retry-After"), "%d", &s); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	return 0
}

// openPR is an open pull request as a forge lists it.
type openPR struct {
	pr          PullRequest
	title, body string
}
