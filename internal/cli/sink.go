package cli

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"
	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meridio-operator/meridio-operator/clustersink"
	"github.com/meridio-operator/meridio-operator/delivery"
	"github.com/meridio-operator/meridio-operator/forge"
	"github.com/meridio-operator/meridio-operator/gitsink"
)

// check refuses flag combinations that cannot work, before anything starts.
func (o *runOptions) check() error {
	switch o.sink {
	case "cluster":
		return nil
	case "git":
		var err error
		if o.git.template, err = readMessageTemplate(o.git.commitTemplate); err != nil {
			return err // parsed once, here: the sink uses it
		}
		if err := o.checkForge(); err != nil {
			return err
		}
		if o.git.url == "" && o.local {
			return nil // a repository in a temporary directory
		}
		if o.git.url == "" {
			return errors.New("--sink=git needs --git-url")
		}
		if scpLike.MatchString(o.git.url) {
			user, rest, _ := strings.Cut(o.git.url, "@")
			host, path, _ := strings.Cut(rest, ":")
			return fmt.Errorf("--git-url %s: scp-style addresses are not URLs; write ssh://%s@%s/%s", o.git.url, user, host, strings.TrimPrefix(path, "/"))
		}
		// Building the repository checks the URL, branches and path without touching anything.
		_, err = o.repository()
		return err
	default:
		return fmt.Errorf("--sink=%s: want cluster or git", o.sink)
	}
}

// scpLike matches git's scp-style addresses, user@host:path.
var scpLike = regexp.MustCompile(`^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^/]`)

// repository is the git mode writer the flags describe.
func (o *runOptions) repository(opts ...gitsink.Option) (*gitsink.Repository, error) {
	dir := o.git.cloneDir
	if dir == "" {
		sum := sha256.Sum256([]byte(gitsink.RedactURL(o.git.url) + "\x00" + o.git.branch + "\x00" + o.git.pushBranch))
		dir = filepath.Join(os.TempDir(), "meridio-operator-git", hex.EncodeToString(sum[:8]))
	}
	opts = append([]gitsink.Option{
		gitsink.WithPath(o.git.path),
		gitsink.WithPushBranch(o.git.pushBranch),
		gitsink.WithAuthor(o.git.authorName, o.git.authorEmail),
	}, opts...)
	return gitsink.NewRepository(o.git.url, o.git.branch, dir, opts...)
}

// newSink builds the sink the flags choose; the git sink's commit loop runs with the manager
// (and only on the leader).
func newSink(mgr ctrl.Manager, o runOptions) (delivery.Sink, error) {
	if o.sink != "git" {
		return clustersink.New(mgr), nil
	}
	var opts []gitsink.Option
	if o.git.secret != "" {
		read := secretReader(mgr, o, o.git.secret)
		opts = append(opts, gitsink.WithCredentials(func(ctx context.Context) (*gitsink.Credentials, error) {
			data, err := read(ctx)
			if err != nil {
				return nil, err
			}
			return gitsink.CredentialsFromSecret(data), nil
		}))
	}
	if o.git.signingSecret != "" {
		read := secretReader(mgr, o, o.git.signingSecret)
		opts = append(opts, gitsink.WithSigning(func(ctx context.Context) (git.Signer, error) {
			data, err := read(ctx)
			if err != nil {
				return nil, err
			}
			s, err := gitsink.SignerFromSecret(data)
			if err != nil {
				return nil, fmt.Errorf("signing secret %s/%s: %w", secretNamespace(o), o.git.signingSecret, err)
			}
			return s, nil
		}))
	}
	repo, err := o.repository(opts...)
	if err != nil {
		return nil, err
	}
	sinkOpts := []gitsink.SinkOption{gitsink.WithMessageTemplate(o.git.template), gitsink.WithCommitDelay(o.git.commitDelay), gitsink.WithOperatorVersion(Version),
		gitsink.WithOverwriteExternalChanges(o.git.overwrite), gitsink.WithPollInterval(o.git.pollInterval)}
	if o.git.verify {
		sinkOpts = append(sinkOpts, gitsink.WithVerify(mgr.GetClient(), o.git.verifyFieldManager))
	}
	if kind, pulls := o.forgeKind(); kind != "" {
		f, err := o.newForge(mgr, kind)
		if err != nil {
			return nil, err
		}
		sinkOpts = append(sinkOpts, gitsink.WithForge(f, pulls))
	}
	sink := gitsink.NewSink(repo, mgr.GetClient(), sinkOpts...)
	if err := mgr.Add(sink); err != nil {
		return nil, err
	}
	return sink, nil
}

// forgeKind is the forge the flags name ("" for none), and whether pull requests are opened.
func (o *runOptions) forgeKind() (string, bool) {
	if o.git.pullRequest != "" {
		return o.git.pullRequest, true
	}
	return o.git.commitStatus, false
}

// checkForge refuses forge flags that cannot work.
func (o *runOptions) checkForge() error {
	for _, f := range []struct{ flag, v string }{{"--git-pull-request", o.git.pullRequest}, {"--git-commit-status", o.git.commitStatus}} {
		switch f.v {
		case "", "auto", forge.GitHub, forge.GitLab, forge.Gitea:
		default:
			return fmt.Errorf("%s=%s: want github, gitlab, gitea or auto", f.flag, f.v)
		}
	}
	kind, pulls := o.forgeKind()
	switch {
	case kind == "":
		return nil
	case pulls && o.git.pushBranch == "":
		return errors.New("--git-pull-request needs --git-push-branch: the pull request goes from the push branch to --git-branch")
	case o.git.pullRequest != "" && o.git.commitStatus != "" && o.git.pullRequest != o.git.commitStatus:
		return errors.New("--git-pull-request and --git-commit-status name different forges")
	case o.git.url == "":
		return errors.New("--git-pull-request and --git-commit-status need --git-url")
	}
	if kind == "auto" && forge.Detect(o.git.url) == "" {
		return fmt.Errorf("cannot tell the forge of %s from its host: name it, --git-pull-request=github|gitlab|gitea", gitsink.RedactURL(o.git.url))
	}
	return nil
}

// newForge is the forge client of the repository; its token is the Git Secret's password or
// bearerToken, read before each call.
func (o *runOptions) newForge(mgr ctrl.Manager, kind string) (forge.Client, error) {
	cfg := forge.Config{Kind: kind, RepoURL: gitsink.RedactURL(o.git.url), APIURL: o.git.forgeAPI}
	if o.git.secret != "" {
		secret := &forgeSecret{read: secretReader(mgr, *o, o.git.secret), now: time.Now}
		cfg.Transport, cfg.Token = secret, secret.token
	}
	if u, err := url.Parse(o.git.url); cfg.Token == nil && err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok {
			cfg.Token = func(context.Context) (string, error) { return p, nil }
		}
	}
	return forge.New(cfg)
}

// forgeSecret gives the forge's calls the token and the HTTP transport of the Git Secret as it
// is at each call: a call reads the Secret once, for its token, and its requests (a GitHub
// call may make several) go through the transport of the same read's connection settings
// (ca.crt, tls.crt/tls.key, proxy).
type forgeSecret struct {
	read func(context.Context) (map[string][]byte, error)
	now  func() time.Time

	mu   sync.Mutex
	data map[string][]byte // the last read
	at   time.Time         // when it was made
}

// callWindow is how long a read serves the requests that follow it without a read of their own.
const callWindow = 10 * time.Second

// token reads the Secret (a call starts) and returns its bearerToken, else its password.
func (s *forgeSecret) token(ctx context.Context) (string, error) {
	data, err := s.get(ctx, 0)
	if err != nil {
		return "", err
	}
	if t := string(data["bearerToken"]); t != "" {
		return t, nil
	}
	return string(data["password"]), nil
}

// get returns the Secret's data, read again unless the last read is younger than maxAge.
func (s *forgeSecret) get(ctx context.Context, maxAge time.Duration) (map[string][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.data != nil && s.now().Sub(s.at) < maxAge {
		return s.data, nil
	}
	data, err := s.read(ctx)
	if err != nil {
		return nil, err
	}
	s.data, s.at = data, s.now()
	return data, nil
}

// RoundTrip sends a request of a call through the transport of the Secret's connection settings.
func (s *forgeSecret) RoundTrip(r *http.Request) (*http.Response, error) {
	data, err := s.get(r.Context(), callWindow)
	var rt http.RoundTripper
	if err == nil {
		rt, err = gitsink.CredentialsFromSecret(data).HTTPTransport()
	}
	if err != nil {
		if r.Body != nil {
			_ = r.Body.Close() // as a RoundTripper must, even when it fails
		}
		return nil, fmt.Errorf("git secret: %w", err)
	}
	return rt.RoundTrip(r)
}

// secretReader reads the data of a Secret of the operator's namespace, at each call (so that a
// rotated Secret takes effect at once), straight from the API server: one Secret by name, no
// cache of every Secret.
func secretReader(mgr ctrl.Manager, o runOptions, name string) func(context.Context) (map[string][]byte, error) {
	key := client.ObjectKey{Namespace: secretNamespace(o), Name: name}
	reader := mgr.GetAPIReader()
	return func(ctx context.Context) (map[string][]byte, error) {
		var s corev1.Secret
		if err := reader.Get(ctx, key, &s); err != nil {
			return nil, fmt.Errorf("secret %s: %w", key, err)
		}
		return s.Data, nil
	}
}

// secretNamespace is the operator's own namespace, where --git-secret lives.
func secretNamespace(o runOptions) string { return cmp.Or(ownNamespace(), o.namespace, "default") }
