package forge

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	gitlab "gitlab.com/gitlab-org/api/client-go"
)

// gitlabClient speaks to GitLab with GitLab's client-go.
type gitlabClient struct {
	base
	project string // "group/sub/project"
}

func (c *gitlabClient) client(ctx context.Context) (*gitlab.Client, error) {
	token, err := c.token(ctx)
	if err != nil {
		return nil, err
	}
	// The retries are ours (one at a time, after what the forge asks): the client's own are
	// turned off so that the two do not multiply.
	return gitlab.NewClient(token, gitlab.WithBaseURL(c.apiURL(c.host+"/api/v4")), gitlab.WithHTTPClient(c.hc), gitlab.WithCustomRetryMax(0))
}

// gitlabErr turns a refusal for the rate limit into RateLimited.
func gitlabErr(err error) error {
	var resp *gitlab.ErrorResponse
	if errors.As(err, &resp) && resp.Response != nil && resp.Response.StatusCode == http.StatusTooManyRequests {
		return &RateLimited{RetryAfter: retryAfter(resp.Response.Header), Err: err}
	}
	return err
}

func gitlabState(state, url string, iid int64) PullRequest {
	out := PullRequest{Number: iid, URL: url, State: StateOpen}
	switch state {
	case "merged":
		out.State = StateMerged
	case "closed", "locked":
		out.State = StateClosed
	}
	return out
}

func (c *gitlabClient) EnsurePullRequest(ctx context.Context, ch Change) (PullRequest, error) {
	var out PullRequest
	err := c.call(ctx, "open or update the pull request "+ch.Head+" -> "+ch.Base, func() error {
		cl, err := c.client(ctx)
		if err != nil {
			return err
		}
		find := func() (*openPR, error) {
			mrs, _, err := cl.MergeRequests.ListProjectMergeRequests(c.project, &gitlab.ListProjectMergeRequestsOptions{
				State: gitlab.Ptr("opened"), SourceBranch: &ch.Head, TargetBranch: &ch.Base}, gitlab.WithContext(ctx))
			if err != nil || len(mrs) == 0 {
				return nil, gitlabErr(err)
			}
			mr := mrs[0]
			return &openPR{pr: gitlabState(mr.State, mr.WebURL, mr.IID), title: mr.Title, body: mr.Description}, nil
		}
		edit := func(number int64) (PullRequest, error) {
			mr, _, err := cl.MergeRequests.UpdateMergeRequest(c.project, number, &gitlab.UpdateMergeRequestOptions{Title: &ch.Title, Description: &ch.Body}, gitlab.WithContext(ctx))
			if err != nil {
				return PullRequest{}, gitlabErr(err)
			}
			return gitlabState(mr.State, mr.WebURL, mr.IID), nil
		}
		create := func() (PullRequest, error) {
			mr, _, err := cl.MergeRequests.CreateMergeRequest(c.project, &gitlab.CreateMergeRequestOptions{
				Title: &ch.Title, Description: &ch.Body, SourceBranch: &ch.Head, TargetBranch: &ch.Base}, gitlab.WithContext(ctx))
			if err != nil {
				return PullRequest{}, gitlabErr(err)
			}
			return gitlabState(mr.State, mr.WebURL, mr.IID), nil
		}
		out, err = ensure(ch, find, edit, create)
		return err
	})
	return out, err
}

func (c *gitlabClient) GetPullRequest(ctx context.Context, number int64) (PullRequest, error) {
	var out PullRequest
	err := c.call(ctx, fmt.Sprintf("read pull request %d", number), func() error {
		cl, err := c.client(ctx)
		if err != nil {
			return err
		}
		mr, _, err := cl.MergeRequests.GetMergeRequest(c.project, number, nil, gitlab.WithContext(ctx))
		if err != nil {
			return gitlabErr(err)
		}
		out = gitlabState(mr.State, mr.WebURL, mr.IID)
		return nil
	})
	return out, err
}

func (c *gitlabClient) SetStatus(ctx context.Context, sha string, s Status) error {
	return c.call(ctx, "set status "+s.Context+" on "+sha, func() error {
		cl, err := c.client(ctx)
		if err != nil {
			return err
		}
		state := map[string]gitlab.BuildStateValue{StatusPending: gitlab.Pending, StatusSuccess: gitlab.Success, StatusFailure: gitlab.Failed}[s.State]
		opt := &gitlab.SetCommitStatusOptions{State: state, Name: &s.Context, Description: &s.Description}
		if s.TargetURL != "" {
			opt.TargetURL = &s.TargetURL
		}
		_, _, err = cl.Commits.SetCommitStatus(c.project, sha, opt, gitlab.WithContext(ctx))
		return gitlabErr(err)
	})
}
