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
		mrs, _, err := cl.MergeRequests.ListProjectMergeRequests(c.project, &gitlab.ListProjectMergeRequestsOptions{
			State: gitlab.Ptr("opened"), SourceBranch: &ch.Head, TargetBranch: &ch.Base}, gitlab.WithContext(ctx))
		if err != nil {
			return gitlabErr(err)
		}
		if len(mrs) > 0 {
			mr := mrs[0]
			if mr.Title == ch.Title && mr.Description == ch.Body {
				out = gitlabState(mr.State, mr.WebURL, mr.IID)
				return nil
			}
			edited, _, err := cl.MergeRequests.UpdateMergeRequest(c.project, mr.IID, &gitlab.UpdateMergeRequestOptions{Title: &ch.Title, Description: &ch.Body}, gitlab.WithContext(ctx))
			if err != nil {
				return gitlabErr(err)
			}
			out = gitlabState(edited.State, edited.WebURL, edited.IID)
			return nil
		}
		mr, _, err := cl.MergeRequests.CreateMergeRequest(c.project, &gitlab.CreateMergeRequestOptions{
			Title: &ch.Title, Description: &ch.Body, SourceBranch: &ch.Head, TargetBranch: &ch.Base}, gitlab.WithContext(ctx))
		if err != nil {
			return gitlabErr(err)
		}
		out = gitlabState(mr.State, mr.WebURL, mr.IID)
		return nil
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
