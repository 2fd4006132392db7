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
	// CACert is a PEM CA bundle for the API (nil: the system's).
	CACert []byte
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
	hc := &http.Client{Timeout: 30 * time.Second}
	if len(cfg.CACert) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(cfg.CACert) {
			return nil, errors.New("forge: ca.crt holds no PEM certificate")
		}
		hc.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	}
	scheme := "https"
	if u.Scheme == "http" {
		scheme = "http"
	}
	b := base{cfg: cfg, hc: hc, host: scheme + "://" + u.Host, kind: kind, name: path, mu: &sync.Mutex{}}
	switch kind {
	case GitHub:
		owner, repo, _ := strings.Cut(path, "/")
		return &githubClient{base: b, owner: owner, repo: repo}, nil
	case GitLab:
		return &gitlabClient{base: b, project: path}, nil
	case Gitea:
		// A Gitea served under a sub-path has the repository's last two segments after it.
		i := strings.LastIndex(path, "/")
		j := strings.LastIndex(path[:i], "/")
		prefix, owner := "", path[:i]
		if j >= 0 {
			prefix, owner = "/"+path[:j], path[j+1:i]
		}
		b.host += prefix
		return &giteaClient{base: b, owner: owner, repo: path[i+1:]}, nil
	default:
		return nil, fmt.Errorf("forge %q: want github, gitlab or gitea", kind)
	}
}

// base is what the three clients share: the configuration, and the lock that makes the calls
// one at a time.
type base struct {
	cfg  Config
	hc   *http.Client
	host string // scheme://host of the repository
	kind string
	name string // the repository's path on the forge
	mu   *sync.Mutex
}

// apiURL is the configured API URL, or def.
func (b *base) apiURL(def string) string {
	if b.cfg.APIURL != "" {
		return strings.TrimSuffix(b.cfg.APIURL, "/")
	}
	return def
}

func (b *base) token(ctx context.Context) (string, error) {
	if b.cfg.Token == nil {
		return "", errors.New("no API token: the Git Secret needs password or bearerToken")
	}
	t, err := b.cfg.Token(ctx)
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
func (b *base) call(ctx context.Context, what string, f func() error) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	wait := time.Second
	for attempt := 1; ; attempt++ {
		err := f()
		var rl *RateLimited
		if !errors.As(err, &rl) || attempt == 3 {
			return b.wrap(what, err)
		}
		d := rl.RetryAfter
		if d <= 0 {
			d, wait = wait, 2*wait
		}
		if d > b.cfg.MaxWait {
			return b.wrap(what, err)
		}
		select {
		case <-ctx.Done():
			return b.wrap(what, err)
		case <-time.After(d):
		}
	}
}

func (b *base) wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %s of %s: %w", b.kind, what, b.name, err)
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

// ensure is the flow every forge follows: find the open pull request of the change; leave it
// when it already says the same, else update it; open one when there is none.
func ensure(ch Change, find func() (*openPR, error), edit func(number int64) (PullRequest, error), create func() (PullRequest, error)) (PullRequest, error) {
	open, err := find()
	switch {
	case err != nil:
		return PullRequest{}, err
	case open == nil:
		return create()
	case open.title == ch.Title && open.body == ch.Body:
		return open.pr, nil
	default:
		return edit(open.pr.Number)
	}
}
