package forge

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/google/go-github/v84/github"
)

// githubSession speaks to GitHub (or GitHub Enterprise) with go-github.
type githubSession struct {
	cl          *github.Client
	owner, repo string
}

func connectGitHub(b base, token, owner, repo string) (session, error) {
	cl := github.NewClient(b.hc).WithAuthToken(token)
	if b.cfg.APIURL != "" {
		var err error
		if cl, err = cl.WithEnterpriseURLs(b.cfg.APIURL, b.cfg.APIURL); err != nil {
			return nil, err
		}
	}
	return githubSession{cl: cl, owner: owner, repo: repo}, nil
}

// githubErr turns GitHub's primary and secondary rate limit refusals into RateLimited.
func githubErr(err error) error {
	var primary *github.RateLimitError
	var secondary *github.AbuseRateLimitError
	switch {
	case errors.As(err, &secondary):
		var d time.Duration
		if secondary.RetryAfter != nil {
			d = *secondary.RetryAfter
		}
		return &RateLimited{RetryAfter: d, Err: err}
	case errors.As(err, &primary):
		return &RateLimited{RetryAfter: time.Until(primary.Rate.Reset.Time), Err: err}
	}
	var resp *github.ErrorResponse
	if errors.As(err, &resp) && resp.Response != nil && resp.Response.StatusCode == http.StatusTooManyRequests {
		return &RateLimited{RetryAfter: retryAfter(resp.Response.Header), Err: err}
	}
	return err
}

func githubPR(pr *github.PullRequest) PullRequest {
	out := PullRequest{Number: int64(pr.GetNumber()), URL: pr.GetHTMLURL(), State: StateOpen}
	switch {
	case pr.GetMerged() || pr.MergedAt != nil:
		out.State = StateMerged
	case pr.GetState() == "closed":
		out.State = StateClosed
	}
	return out
}

func (s githubSession) findOpen(ctx context.Context, ch Change) (*openPR, error) {
	prs, _, err := s.cl.PullRequests.List(ctx, s.owner, s.repo, &github.PullRequestListOptions{State: "open", Head: s.owner + ":" + ch.Head, Base: ch.Base})
	if err != nil || len(prs) == 0 {
		return nil, githubErr(err)
	}
	return &openPR{pr: githubPR(prs[0]), title: prs[0].GetTitle(), body: prs[0].GetBody()}, nil
}

func (s githubSession) edit(ctx context.Context, number int64, ch Change) (PullRequest, error) {
	return githubPRErr(s.cl.PullRequests.Edit(ctx, s.owner, s.repo, int(number), &github.PullRequest{Title: &ch.Title, Body: &ch.Body}))
}

func (s githubSession) create(ctx context.Context, ch Change) (PullRequest, error) {
	return githubPRErr(s.cl.PullRequests.Create(ctx, s.owner, s.repo, &github.NewPullRequest{Title: &ch.Title, Head: &ch.Head, Base: &ch.Base, Body: &ch.Body}))
}

func (s githubSession) get(ctx context.Context, number int64) (PullRequest, error) {
	return githubPRErr(s.cl.PullRequests.Get(ctx, s.owner, s.repo, int(number)))
}

// githubPRErr is what a call that answers a pull request gives.
func githubPRErr(pr *github.PullRequest, _ *github.Response, err error) (PullRequest, error) {
	if err != nil {
		return PullRequest{}, githubErr(err)
	}
	return githubPR(pr), nil
}

func (s githubSession) setStatus(ctx context.Context, sha string, st Status) error {
	status := github.RepoStatus{State: &st.State, Context: &st.Context, Description: &st.Description}
	if st.TargetURL != "" {
		status.TargetURL = &st.TargetURL
	}
	_, _, err := s.cl.Repositories.CreateStatus(ctx, s.owner, s.repo, sha, status)
	return githubErr(err)
}
