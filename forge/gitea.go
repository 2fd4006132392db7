package forge

import (
	"context"
	"fmt"
	"net/http"

	"code.gitea.io/sdk/gitea"
)

// giteaClient speaks to Gitea with its SDK.
type giteaClient struct {
	base
	owner, repo string
}

func (c *giteaClient) client(ctx context.Context) (*gitea.Client, error) {
	token, err := c.token(ctx)
	if err != nil {
		return nil, err
	}
	// No version probe: one request less per call, and the calls used exist in every release.
	return gitea.NewClient(c.apiURL(c.host), gitea.SetToken(token), gitea.SetHTTPClient(c.hc), gitea.SetContext(ctx), gitea.SetGiteaVersion(""))
}

// giteaErr turns a refusal for the rate limit into RateLimited.
func giteaErr(resp *gitea.Response, err error) error {
	if err != nil && resp != nil && resp.StatusCode == http.StatusTooManyRequests {
		return &RateLimited{RetryAfter: retryAfter(resp.Header), Err: err}
	}
	return err
}

func giteaPR(pr *gitea.PullRequest) PullRequest {
	out := PullRequest{Number: pr.Index, URL: pr.HTMLURL, State: StateOpen}
	switch {
	case pr.HasMerged:
		out.State = StateMerged
	case pr.State == gitea.StateClosed:
		out.State = StateClosed
	}
	return out
}

func (c *giteaClient) EnsurePullRequest(ctx context.Context, ch Change) (PullRequest, error) {
	var out PullRequest
	err := c.call(ctx, "open or update the pull request "+ch.Head+" -> "+ch.Base, func() error {
		cl, err := c.client(ctx)
		if err != nil {
			return err
		}
		find := func() (*openPR, error) {
			for page := 1; ; page++ {
				prs, resp, err := cl.ListRepoPullRequests(c.owner, c.repo, gitea.ListPullRequestsOptions{State: gitea.StateOpen, ListOptions: gitea.ListOptions{Page: page, PageSize: 50}})
				if err != nil {
					return nil, giteaErr(resp, err)
				}
				for _, pr := range prs {
					if pr.Head != nil && pr.Base != nil && pr.Head.Ref == ch.Head && pr.Base.Ref == ch.Base {
						return &openPR{pr: giteaPR(pr), title: pr.Title, body: pr.Body}, nil
					}
				}
				if len(prs) < 50 {
					return nil, nil
				}
			}
		}
		edit := func(number int64) (PullRequest, error) {
			pr, resp, err := cl.EditPullRequest(c.owner, c.repo, number, gitea.EditPullRequestOption{Title: ch.Title, Body: &ch.Body})
			if err != nil {
				return PullRequest{}, giteaErr(resp, err)
			}
			return giteaPR(pr), nil
		}
		create := func() (PullRequest, error) {
			pr, resp, err := cl.CreatePullRequest(c.owner, c.repo, gitea.CreatePullRequestOption{Head: ch.Head, Base: ch.Base, Title: ch.Title, Body: ch.Body})
			if err != nil {
				return PullRequest{}, giteaErr(resp, err)
			}
			return giteaPR(pr), nil
		}
		out, err = ensure(ch, find, edit, create)
		return err
	})
	return out, err
}

func (c *giteaClient) GetPullRequest(ctx context.Context, number int64) (PullRequest, error) {
	var out PullRequest
	err := c.call(ctx, fmt.Sprintf("read pull request %d", number), func() error {
		cl, err := c.client(ctx)
		if err != nil {
			return err
		}
		pr, resp, err := cl.GetPullRequest(c.owner, c.repo, number)
		if err != nil {
			return giteaErr(resp, err)
		}
		out = giteaPR(pr)
		return nil
	})
	return out, err
}

func (c *giteaClient) SetStatus(ctx context.Context, sha string, s Status) error {
	return c.call(ctx, "set status "+s.Context+" on "+sha, func() error {
		cl, err := c.client(ctx)
		if err != nil {
			return err
		}
		state := map[string]gitea.StatusState{StatusPending: gitea.StatusPending, StatusSuccess: gitea.StatusSuccess, StatusFailure: gitea.StatusFailure}[s.State]
		_, resp, err := cl.CreateStatus(c.owner, c.repo, sha, gitea.CreateStatusOption{State: state, Context: s.Context, Description: s.Description, TargetURL: s.TargetURL})
		return giteaErr(resp, err)
	})
}
