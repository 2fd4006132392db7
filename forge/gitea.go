package forge

import (
	"context"
	"net/http"

	"code.gitea.io/sdk/gitea"
)

// giteaSession speaks to Gitea with its SDK.
type giteaSession struct {
	cl          *gitea.Client
	owner, repo string
}

func connectGitea(ctx context.Context, b base, token, owner, repo string) (session, error) {
	// No version probe: one request less per call, and the calls used exist in every release.
	cl, err := gitea.NewClient(b.apiURL(b.host), gitea.SetToken(token), gitea.SetHTTPClient(b.hc), gitea.SetContext(ctx), gitea.SetGiteaVersion(""))
	return giteaSession{cl: cl, owner: owner, repo: repo}, err
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

func (s giteaSession) findOpen(_ context.Context, ch Change) (*openPR, error) {
	for page := 1; ; page++ {
		prs, resp, err := s.cl.ListRepoPullRequests(s.owner, s.repo, gitea.ListPullRequestsOptions{State: gitea.StateOpen, ListOptions: gitea.ListOptions{Page: page, PageSize: 50}})
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

func (s giteaSession) edit(_ context.Context, number int64, ch Change) (PullRequest, error) {
	return giteaPRErr(s.cl.EditPullRequest(s.owner, s.repo, number, gitea.EditPullRequestOption{Title: ch.Title, Body: &ch.Body}))
}

func (s giteaSession) create(_ context.Context, ch Change) (PullRequest, error) {
	return giteaPRErr(s.cl.CreatePullRequest(s.owner, s.repo, gitea.CreatePullRequestOption{Head: ch.Head, Base: ch.Base, Title: ch.Title, Body: ch.Body}))
}

func (s giteaSession) get(_ context.Context, number int64) (PullRequest, error) {
	return giteaPRErr(s.cl.GetPullRequest(s.owner, s.repo, number))
}

// giteaPRErr is what a call that answers a pull request gives.
func giteaPRErr(pr *gitea.PullRequest, resp *gitea.Response, err error) (PullRequest, error) {
	if err != nil {
		return PullRequest{}, giteaErr(resp, err)
	}
	return giteaPR(pr), nil
}

func (s giteaSession) setStatus(_ context.Context, sha string, st Status) error {
	state := map[string]gitea.StatusState{StatusPending: gitea.StatusPending, StatusSuccess: gitea.StatusSuccess, StatusFailure: gitea.StatusFailure}[st.State]
	_, resp, err := s.cl.CreateStatus(s.owner, s.repo, sha, gitea.CreateStatusOption{State: state, Context: st.Context, Description: st.Description, TargetURL: st.TargetURL})
	return giteaErr(resp, err)
}
