package forge

import (
	"context"
	"errors"
	"net/http"

	gitlab "gitlab.com/gitlab-org/api/client-go"
)

// gitlabSession speaks to GitLab with GitLab's client-go.
type gitlabSession struct {
	cl      *gitlab.Client
	project string // "group/sub/project"
}

func connectGitLab(b base, token, project string) (session, error) {
	// The retries are ours (one at a time, after what the forge asks): the client's own are
	// turned off so that the two do not multiply.
	cl, err := gitlab.NewClient(token, gitlab.WithBaseURL(b.apiURL(b.host+"/api/v4")), gitlab.WithHTTPClient(b.hc), gitlab.WithCustomRetryMax(0))
	return gitlabSession{cl: cl, project: project}, err
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

func (s gitlabSession) findOpen(ctx context.Context, ch Change) (*openPR, error) {
	mrs, _, err := s.cl.MergeRequests.ListProjectMergeRequests(s.project, &gitlab.ListProjectMergeRequestsOptions{
		State: gitlab.Ptr("opened"), SourceBranch: &ch.Head, TargetBranch: &ch.Base}, gitlab.WithContext(ctx))
	if err != nil || len(mrs) == 0 {
		return nil, gitlabErr(err)
	}
	mr := mrs[0]
	return &openPR{pr: gitlabState(mr.State, mr.WebURL, mr.IID), title: mr.Title, body: mr.Description}, nil
}

func (s gitlabSession) edit(ctx context.Context, number int64, ch Change) (PullRequest, error) {
	return gitlabMRErr(s.cl.MergeRequests.UpdateMergeRequest(s.project, number, &gitlab.UpdateMergeRequestOptions{Title: &ch.Title, Description: &ch.Body}, gitlab.WithContext(ctx)))
}

func (s gitlabSession) create(ctx context.Context, ch Change) (PullRequest, error) {
	return gitlabMRErr(s.cl.MergeRequests.CreateMergeRequest(s.project, &gitlab.CreateMergeRequestOptions{
		Title: &ch.Title, Description: &ch.Body, SourceBranch: &ch.Head, TargetBranch: &ch.Base}, gitlab.WithContext(ctx)))
}

func (s gitlabSession) get(ctx context.Context, number int64) (PullRequest, error) {
	return gitlabMRErr(s.cl.MergeRequests.GetMergeRequest(s.project, number, nil, gitlab.WithContext(ctx)))
}

// gitlabMRErr is what a call that answers a merge request gives.
func gitlabMRErr(mr *gitlab.MergeRequest, _ *gitlab.Response, err error) (PullRequest, error) {
	if err != nil {
		return PullRequest{}, gitlabErr(err)
	}
	return gitlabState(mr.State, mr.WebURL, mr.IID), nil
}

func (s gitlabSession) setStatus(ctx context.Context, sha string, st Status) error {
	state := map[string]gitlab.BuildStateValue{StatusPending: gitlab.Pending, StatusSuccess: gitlab.Success, StatusFailure: gitlab.Failed}[st.State]
	opt := &gitlab.SetCommitStatusOptions{State: state, Name: &st.Context, Description: &st.Description}
	if st.TargetURL != "" {
		opt.TargetURL = &st.TargetURL
	}
	_, _, err := s.cl.Commits.SetCommitStatus(s.project, sha, opt, gitlab.WithContext(ctx))
	return gitlabErr(err)
}
