package forge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/go-github/v84/github"
)

// githubClient speaks to GitHub (or GitHub Enterprise) with go-github.
type githubClient struct {
	base
	owner, repo string
}

func (c *githubClient) client(ctx context.Context) (*github.Client, error) {
	token, err := c.token(ctx)
	if err != nil {
		return nil, err
	}
	cl := github.NewClient(c.hc).WithAuthToken(token)
	if c.cfg.APIURL != "" {
		return cl.WithEnterpriseURLs(c.cfg.APIURL, c.cfg.APIURL)
	}
	return cl, nil
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

func (c *githubClient) EnsurePullRequest(ctx context.Context, ch Change) (PullRequest, error) {
	var out PullRequest
	err := c.call(ctx, "open or update the pull request "+ch.Head+" -> "+ch.Base, func() error {
		cl, err := c.client(ctx)
		if err != nil {
			return err
		}
		find := func() (*openPR, error) {
			prs, _, err := cl.PullRequests.List(ctx, c.owner, c.repo, &github.PullRequestListOptions{State: "open", Head: c.owner + ":" + ch.Head, Base: ch.Base})
			if err != nil || len(prs) == 0 {
				return nil, githubErr(err)
			}
			return &openPR{pr: githubPR(prs[0]), title: prs[0].GetTitle(), body: prs[0].GetBody()}, nil
		}
		edit := func(number int64) (PullRequest, error) {
			pr, _, err := cl.PullRequests.Edit(ctx, c.owner, c.repo, int(number), &github.PullRequest{Title: &ch.Title, Body: &ch.Body})
			if err != nil {
				return PullRequest{}, githubErr(err)
			}
			return githubPR(pr), nil
		}
		create := func() (PullRequest, error) {
			pr, _, err := cl.PullRequests.Create(ctx, c.owner, c.repo, &github.NewPullRequest{Title: &ch.Title, Head: &ch.Head, Base: &ch.Base, Body: &ch.Body})
			if err != nil {
				return PullRequest{}, githubErr(err)
			}
			return githubPR(pr), nil
		}
		out, err = ensure(ch, find, edit, create)
		return err
	})
	return out, err
}

func (c *githubClient) GetPullRequest(ctx context.Context, number int64) (PullRequest, error) {
	var out PullRequest
	err := c.call(ctx, fmt.Sprintf("read pull request %d", number), func() error {
		cl, err := c.client(ctx)
		if err != nil {
			return err
		}
		pr, _, err := cl.PullRequests.Get(ctx, c.owner, c.repo, int(number))
		if err != nil {
			return githubErr(err)
		}
		out = githubPR(pr)
		return nil
	})
	return out, err
}

func (c *githubClient) SetStatus(ctx context.Context, sha string, s Status) error {
	return c.call(ctx, "set status "+s.Context+" on "+sha, func() error {
		cl, err := c.client(ctx)
		if err != nil {
			return err
		}
		st := github.RepoStatus{State: &s.State, Context: &s.Context, Description: &s.Description}
		if s.TargetURL != "" {
			st.TargetURL = &s.TargetURL
		}
		_, _, err = cl.Repositories.CreateStatus(ctx, c.owner, c.repo, sha, st)
		return githubErr(err)
	})
}
