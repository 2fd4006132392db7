package forge

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// standIn is a small server on 127.0.0.1 that answers the API calls the GitHub and GitLab
// clients make, clearly a stand-in for forges that cannot run here: it keeps pull requests in
// memory, records each request, and refuses the next calls for a rate limit when told to.
type standIn struct {
	*httptest.Server
	mu       sync.Mutex
	requests []string
	prs      map[int64]map[string]any
	next     int64
	// limited is how many of the next calls are refused (429 with Retry-After: 1).
	limited int
	// refuse, when set, answers every call with this status and message.
	refuse  int
	message string
}

func (s *standIn) record(r *http.Request) (map[string]any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var body map[string]any
	data, _ := io.ReadAll(r.Body)
	_ = json.Unmarshal(data, &body)
	line := r.Method + " " + r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		line += "?" + r.URL.RawQuery
	}
	s.requests = append(s.requests, line)
	if s.limited > 0 {
		s.limited--
		return nil, false
	}
	return body, true
}

func (s *standIn) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.requests
	s.requests = nil
	return out
}

func newStandIn(t *testing.T, routes func(s *standIn, w http.ResponseWriter, r *http.Request, body map[string]any)) *standIn {
	s := &standIn{prs: map[int64]map[string]any{}, next: 1}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := s.record(r)
		w.Header().Set("Content-Type", "application/json")
		switch {
		case !ok:
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"message":"API rate limit exceeded"}`))
		case s.refuse != 0:
			w.WriteHeader(s.refuse)
			_, _ = fmt.Fprintf(w, `{"message":%q}`, s.message)
		default:
			// GitHub's client sends a bearer token, GitLab's a PRIVATE-TOKEN header.
			assert.True(t, r.Header.Get("Authorization") == "Bearer t0ken" || r.Header.Get("Private-Token") == "t0ken", "the token is sent: %v", r.Header)
			routes(s, w, r, body)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func reply(w http.ResponseWriter, status int, v any) {
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// githubRoutes answers the calls of go-github.
func githubRoutes(s *standIn, w http.ResponseWriter, r *http.Request, body map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := strings.TrimPrefix(r.URL.Path, "/api/v3/repos/acme/fleet/")
	switch {
	case r.Method == "GET" && p == "pulls":
		var out []map[string]any
		for _, pr := range s.prs {
			if pr["state"] == "open" && "acme:"+pr["head"].(map[string]any)["ref"].(string) == r.URL.Query().Get("head") {
				out = append(out, pr)
			}
		}
		reply(w, 200, out)
	case r.Method == "POST" && p == "pulls":
		n := s.next
		s.next++
		pr := map[string]any{"number": n, "state": "open", "title": body["title"], "body": body["body"],
			"html_url": fmt.Sprintf("https://github.example/acme/fleet/pull/%d", n), "head": map[string]any{"ref": body["head"]}}
		s.prs[n] = pr
		reply(w, 201, pr)
	case strings.HasPrefix(p, "pulls/"):
		var n int64
		fmt.Sscan(strings.TrimPrefix(p, "pulls/"), &n)
		pr := s.prs[n]
		if r.Method == "PATCH" {
			for k, v := range body {
				pr[k] = v
			}
		}
		reply(w, 200, pr)
	case r.Method == "POST" && strings.HasPrefix(p, "statuses/"):
		reply(w, 201, body)
	default:
		reply(w, 404, map[string]any{"message": "Not Found"})
	}
}

// gitlabRoutes answers the calls of GitLab's client-go.
func gitlabRoutes(s *standIn, w http.ResponseWriter, r *http.Request, body map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := strings.TrimPrefix(r.URL.EscapedPath(), "/api/v4/projects/group%2Fsub%2Ffleet/")
	switch {
	case r.Method == "GET" && p == "merge_requests":
		out := []map[string]any{}
		for _, mr := range s.prs {
			if mr["state"] == "opened" && mr["source_branch"] == r.URL.Query().Get("source_branch") && mr["target_branch"] == r.URL.Query().Get("target_branch") {
				out = append(out, mr)
			}
		}
		reply(w, 200, out)
	case r.Method == "POST" && p == "merge_requests":
		n := s.next
		s.next++
		mr := map[string]any{"iid": n, "state": "opened", "title": body["title"], "description": body["description"],
			"source_branch": body["source_branch"], "target_branch": body["target_branch"],
			"web_url": fmt.Sprintf("https://gitlab.example/group/sub/fleet/-/merge_requests/%d", n)}
		s.prs[n] = mr
		reply(w, 201, mr)
	case strings.HasPrefix(p, "merge_requests/"):
		var n int64
		fmt.Sscan(strings.TrimPrefix(p, "merge_requests/"), &n)
		mr := s.prs[n]
		if r.Method == "PUT" {
			for k, v := range body {
				mr[k] = v
			}
		}
		reply(w, 200, mr)
	case r.Method == "POST" && strings.HasPrefix(p, "statuses/"):
		reply(w, 201, body)
	default:
		reply(w, 404, map[string]any{"message": "404 Not Found"})
	}
}

// TestStandIns: against stand-ins of GitHub and GitLab, the clients make exactly the calls
// of the flow (find the open pull request of head → base, create it, then update it in
// place; read it; post a status), honour a rate limit's Retry-After (the call is made again
// after it, one at a time), and surface the forge's refusal in its own words.
func TestStandIns(t *testing.T) {
	token := func(context.Context) (string, error) { return "t0ken", nil }
	for name, tc := range map[string]struct {
		routes   func(*standIn, http.ResponseWriter, *http.Request, map[string]any)
		cfg      func(url string) Config
		want     []string
		prURL    string
		mergeKey string
	}{
		"github": {
			routes: githubRoutes,
			cfg: func(u string) Config {
				return Config{Kind: GitHub, RepoURL: "https://github.example/acme/fleet.git", APIURL: u + "/api/v3/", Token: token}
			},
			want: []string{
				"GET /api/v3/repos/acme/fleet/pulls?base=main&head=acme%3Ameridio-review&state=open",
				"POST /api/v3/repos/acme/fleet/pulls",
				"GET /api/v3/repos/acme/fleet/pulls?base=main&head=acme%3Ameridio-review&state=open",
				"PATCH /api/v3/repos/acme/fleet/pulls/1",
				"GET /api/v3/repos/acme/fleet/pulls/1",
				"POST /api/v3/repos/acme/fleet/statuses/0123abcd",
			},
			prURL: "https://github.example/acme/fleet/pull/1",
		},
		"gitlab": {
			routes: gitlabRoutes,
			cfg: func(u string) Config {
				return Config{Kind: GitLab, RepoURL: "https://gitlab.example/group/sub/fleet.git", APIURL: u + "/api/v4", Token: token}
			},
			want: []string{
				"GET /api/v4/projects/group%2Fsub%2Ffleet/merge_requests?source_branch=meridio-review&state=opened&target_branch=main",
				"POST /api/v4/projects/group%2Fsub%2Ffleet/merge_requests",
				"GET /api/v4/projects/group%2Fsub%2Ffleet/merge_requests?source_branch=meridio-review&state=opened&target_branch=main",
				"PUT /api/v4/projects/group%2Fsub%2Ffleet/merge_requests/1",
				"GET /api/v4/projects/group%2Fsub%2Ffleet/merge_requests/1",
				"POST /api/v4/projects/group%2Fsub%2Ffleet/statuses/0123abcd",
			},
			prURL: "https://gitlab.example/group/sub/fleet/-/merge_requests/1",
		},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			srv := newStandIn(t, tc.routes)
			c, err := New(tc.cfg(srv.URL))
			require.NoError(t, err)
			ch := Change{Head: "meridio-review", Base: "main", Title: "meridio: add t", Body: "first"}
			pr, err := c.EnsurePullRequest(ctx, ch)
			require.NoError(t, err)
			assert.Equal(t, PullRequest{Number: 1, URL: tc.prURL, State: StateOpen}, pr)
			ch.Body = "second"
			again, err := c.EnsurePullRequest(ctx, ch)
			require.NoError(t, err)
			assert.Equal(t, pr, again, "updated, not a second one")
			got, err := c.GetPullRequest(ctx, 1)
			require.NoError(t, err)
			assert.Equal(t, pr, got)
			require.NoError(t, c.SetStatus(ctx, "0123abcd", Status{Context: "meridio/ns/t", State: StatusSuccess, Description: "applied and healthy"}))
			assert.Equal(t, tc.want, srv.take())
			body := srv.prs[1]["body"]
			if body == nil {
				body = srv.prs[1]["description"]
			}
			assert.Equal(t, "second", body)

			// Rate limited twice: the call waits the second Retry-After asks, twice, and goes through.
			srv.limited = 2
			start := time.Now()
			require.NoError(t, c.SetStatus(ctx, "0123abcd", Status{Context: "meridio/ns/t", State: StatusPending}))
			assert.GreaterOrEqual(t, time.Since(start), 2*time.Second, "Retry-After is honoured")
			assert.Len(t, srv.take(), 3)

			// Longer limits than MaxWait are not waited for: the error says so.
			short := tc.cfg(srv.URL)
			short.MaxWait = 100 * time.Millisecond
			impatient, err := New(short)
			require.NoError(t, err)
			srv.limited = 1
			err = impatient.SetStatus(ctx, "0123abcd", Status{Context: "meridio/ns/t", State: StatusPending})
			var rl *RateLimited
			require.ErrorAs(t, err, &rl)
			assert.Equal(t, time.Second, rl.RetryAfter)
			assert.Len(t, srv.take(), 1)

			srv.refuse, srv.message = http.StatusForbidden, "Resource not accessible by integration"
			_, err = c.EnsurePullRequest(ctx, ch)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "open or update the pull request meridio-review -> main of ")
			assert.Contains(t, err.Error(), "Resource not accessible by integration")
		})
	}
}

// TestNew: the forge is told from the host where it is obvious, else it must be named; the
// repository path is checked.
func TestNew(t *testing.T) {
	for u, want := range map[string]string{
		"https://github.com/acme/fleet.git": GitHub, "https://gitlab.com/g/s/p.git": GitLab, "https://gitlab.corp.example/g/p": GitLab,
		"https://codeberg.org/a/b.git": Gitea, "https://gitea.corp.example/a/b.git": Gitea, "https://git.corp.example/a/b.git": "",
		"ssh://git@github.com/acme/fleet.git": GitHub,
	} {
		assert.Equal(t, want, Detect(u), u)
	}
	_, err := New(Config{Kind: "auto", RepoURL: "https://git.corp.example/a/b.git"})
	assert.ErrorContains(t, err, "cannot tell the forge of https://git.corp.example/a/b.git from its host")
	_, err = New(Config{Kind: GitHub, RepoURL: "https://github.com/fleet.git"})
	assert.ErrorContains(t, err, "names no owner/repository")
	_, err = New(Config{Kind: "bitbucket", RepoURL: "https://x.example/a/b.git"})
	assert.ErrorContains(t, err, `forge "bitbucket": want github, gitlab or gitea`)
}

// countingTransport counts the calls it carries.
type countingTransport struct{ n atomic.Int32 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

// TestTransport: with Config.Transport (the git sink's, with its CA, client certificate and
// proxy), every API call goes through it, the forge of each kind alike.
func TestTransport(t *testing.T) {
	token := func(context.Context) (string, error) { return "t0ken", nil }
	for kind, routes := range map[string]func(*standIn, http.ResponseWriter, *http.Request, map[string]any){GitHub: githubRoutes, GitLab: gitlabRoutes} {
		s := newStandIn(t, routes)
		tr := &countingTransport{}
		cfg := Config{Kind: kind, RepoURL: map[string]string{GitHub: "https://github.example/acme/fleet.git", GitLab: "https://gitlab.example/group/sub/fleet.git"}[kind], APIURL: s.URL + map[string]string{GitHub: "/api/v3/", GitLab: "/api/v4"}[kind], Token: token, Transport: tr}
		c, err := New(cfg)
		require.NoError(t, err)
		require.NoError(t, c.SetStatus(context.Background(), "0123abcd", Status{Context: "meridio/ns/t", State: "pending", Description: "d"}))
		assert.Equal(t, int32(len(s.take())), tr.n.Load(), "%s: every request went through the transport", kind)
		assert.Positive(t, tr.n.Load(), kind)
	}
}
