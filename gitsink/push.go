package gitsink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
)

// errMoved means the remote branch is not where the commit was built on: someone else pushed.
var errMoved = errors.New("the branch moved on the remote")

// sendPack pushes commit to branch with exactly the objects the commit added. go-git's own
// push works out what to send by walking everything reachable from the remote's heads, which
// is O(repository); the commit was built knowing which objects are new. A fast-forward
// (force false) is only sent when the remote branch is still at parent, and the server applies
// it only if the branch has not moved since (the old value of the update command).
func (r *Repository) sendPack(ctx context.Context, auth transport.AuthMethod, ca []byte, branch string, parent, commit plumbing.Hash, pack []byte, force bool) error {
	ep, err := transport.NewEndpoint(r.url)
	if err != nil {
		return err
	}
	ep.CaBundle = ca
	cl, err := client.NewClient(ep)
	if err != nil {
		return err
	}
	sess, err := cl.NewReceivePackSession(ep, auth)
	if err != nil {
		return err
	}
	defer sess.Close()
	ar, err := sess.AdvertisedReferencesContext(ctx)
	if err != nil {
		return err
	}
	ref := plumbing.NewBranchReferenceName(branch)
	remoteOld := plumbing.ZeroHash
	if refs, err := ar.AllReferences(); err == nil {
		if h, ok := refs[ref]; ok {
			remoteOld = h.Hash()
		}
	}
	if !force && remoteOld != parent {
		return errMoved
	}
	req := packp.NewReferenceUpdateRequestFromCapabilities(ar.Capabilities)
	req.Commands = []*packp.Command{{Name: ref, Old: remoteOld, New: commit}}
	// The server's own words (a refusing hook's) come on the progress band; without one, a
	// server may mix them into the reply.
	var remote remoteMessages
	switch {
	case ar.Capabilities.Supports(capability.Sideband64k):
		req.Capabilities.Set(capability.Sideband64k)
		req.Progress = &remote
	case ar.Capabilities.Supports(capability.Sideband):
		req.Capabilities.Set(capability.Sideband)
		req.Progress = &remote
	}
	req.Packfile = io.NopCloser(bytes.NewReader(pack))
	rs, err := sess.ReceivePack(ctx, req)
	if err != nil {
		return remote.wrap(err)
	}
	if rs != nil {
		return remote.wrap(rs.Error())
	}
	return nil
}

// encodePack encodes the objects a push sends, from the local clone: before the push, so that
// the push reads nothing of the clone while others read it. Deltas refer to their bases by
// hash (every receive-pack takes those).
func encodePack(store storer.EncodedObjectStorer, objects []plumbing.Hash) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := packfile.NewEncoder(&buf, store, true).Encode(objects, 10); err != nil {
		return nil, fmt.Errorf("write the pack: %w", err)
	}
	return buf.Bytes(), nil
}

// remoteMessages keeps what the server said on the progress band (its last 1 kB).
type remoteMessages struct{ b []byte }

func (m *remoteMessages) Write(p []byte) (int, error) {
	m.b = append(m.b, p...)
	if len(m.b) > 1024 {
		m.b = m.b[len(m.b)-1024:]
	}
	return len(p), nil
}

// wrap adds the server's words to a failed push.
func (m *remoteMessages) wrap(err error) error {
	msg := strings.Join(strings.Fields(string(m.b)), " ")
	if err == nil || msg == "" {
		return err
	}
	return fmt.Errorf("%w (the server said: %s)", err, msg)
}
