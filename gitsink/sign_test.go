package gitsink

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/meridio-operator/meridio-operator/delivery"
	"github.com/meridio-operator/meridio-operator/internal/testutil"
)

// operatorCommits lists the commits of branch that the operator made.
func operatorCommits(t *testing.T, bare, branch string) []string {
	t.Helper()
	return strings.Fields(testutil.Git(t, bare, "log", "--format=%H", "--author=meridio-operator", branch))
}

// Test_Sink_signedCommits: every commit the operator makes is signed, as `git verify-commit`
// checks it, with OpenPGP and with SSH keys: the first push, a rebuild after a rejected push,
// the rebuilds of a push branch, and after the key is rotated (read again for each commit).
func Test_Sink_signedCommits(t *testing.T) {
	for name, keys := range map[string][2]testutil.SigningKey{
		"openpgp": {testutil.OpenPGPKey(t, "meridio-operator@localhost", ""), testutil.OpenPGPKey(t, "meridio-operator@localhost", "rotated pass phrase")},
		"ssh":     {testutil.SSHKey(t, ""), testutil.SSHKey(t, "ssh pass phrase")},
	} {
		t.Run(name, func(t *testing.T) {
			srv := newServer(t)
			var current atomic.Pointer[testutil.SigningKey]
			current.Store(&keys[0])
			var reads atomic.Int32
			signing := WithSigning(func(context.Context) (git.Signer, error) {
				reads.Add(1)
				return SignerFromSecret(current.Load().Data)
			})
			results := examples(t)

			// Straight to main; someone else pushes meanwhile, so a push is rejected and rebuilt.
			r := newRemote(t, srv, "http", "signed.git")
			s := startSink(t, r, "", signing)
			s.deliverAll(t, results...)
			wt := checkout(t, r.cli, "main")
			require.NoError(t, os.WriteFile(filepath.Join(wt, "NOTES.md"), []byte("notes\n"), 0o644))
			testutil.Git(t, wt, "add", "NOTES.md")
			testutil.Git(t, wt, "commit", "--quiet", "-m", "notes")
			testutil.Git(t, wt, "push", "--quiet", "origin", "main")
			s.deliverAll(t, withReplicas(t, results[0], 3))
			current.Store(&keys[1])
			s.deliverAll(t, withReplicas(t, results[0], 4))

			// To a push branch, rebuilt when main moves.
			review := newRemote(t, srv, "file", "review.git")
			testutil.Git(t, wt, "push", "--quiet", review.cli, "main")
			current.Store(&keys[0])
			p := startSink(t, review, "", signing, WithPushBranch("meridio-review"))
			p.deliverAll(t, withReplicas(t, results[0], 5))
			testutil.Git(t, wt, "commit", "--quiet", "--allow-empty", "-m", "main moves")
			testutil.Git(t, wt, "push", "--quiet", review.cli, "main")
			p.deliverAll(t, withReplicas(t, results[0], 6))
			testutil.Git(t, review.bare, "merge-base", "--is-ancestor", "main", "meridio-review")

			// A push rejected because the branch moved is rebuilt and signed again.
			raw := newRemote(t, srv, "file", "raw.git")
			repo, err := NewRepository(raw.url, "main", filepath.Join(t.TempDir(), "raw"), signing, WithRetry(3, time.Millisecond))
			require.NoError(t, err)
			dir := func(content string) map[string]*dirTree {
				d, err := newDirTree(map[string][]byte{"kustomization.yaml": []byte(content)})
				require.NoError(t, err)
				return map[string]*dirTree{"default/raw": d}
			}
			_, err = repo.Write(s.ctx, "first", dir("resources: []\n"))
			require.NoError(t, err)
			rwt := checkout(t, raw.cli, "main")
			testutil.Git(t, rwt, "commit", "--quiet", "--allow-empty", "-m", "meanwhile")
			testutil.Git(t, rwt, "push", "--quiet", "origin", "main")
			rebuilt, err := repo.Write(s.ctx, "second", dir("resources: [a.yaml]\n"))
			require.NoError(t, err)
			assert.Equal(t, 2, rebuilt.Attempts, "the first push is rejected")

			check := func(bare, branch string, wantCommits int) {
				ours := operatorCommits(t, bare, branch)
				require.Len(t, ours, wantCommits, "operator commits on %s", branch)
				for i, h := range ours {
					// Newest first: on main the newest commit is signed with the rotated key.
					k := 0
					if bare == r.bare && i == 0 {
						k = 1
					}
					out, ok := testutil.VerifyCommit(t, bare, h, keys[k])
					assert.True(t, ok, "commit %s of %s is signed with key %d: %s", h, branch, k, out)
					_, other := testutil.VerifyCommit(t, bare, h, keys[1-k])
					assert.False(t, other, "commit %s does not verify with the other key", h)
				}
			}
			check(r.bare, "main", 3)
			check(raw.bare, "main", 2)
			// The push branch: the operator's first commit, which main holds, and the rebuild on
			// main's new tip.
			check(review.bare, "meridio-review", 2)
			// The person's commit is on main, under the operator's rebuilt one.
			testutil.Git(t, r.bare, "merge-base", "--is-ancestor", testutil.Git(t, wt, "rev-parse", "HEAD~1"), "main")
			assert.Equal(t, 7, int(reads.Load()), "the key is read once for each commit")
		})
	}
}

// Test_Sink_signingFailed: a key that cannot sign fails the delivery with GitSigningFailed and
// pushes nothing, unsigned or not; the error says what is wrong without the key; a good key
// recovers by itself.
func Test_Sink_signingFailed(t *testing.T) {
	srv := newServer(t)
	r := newRemote(t, srv, "file", "unsigned.git")
	good := testutil.SSHKey(t, "")
	bad := map[string][]byte{SigningKeySSH: []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nbm90IGEga2V5IGF0IGFsbA==\n-----END OPENSSH PRIVATE KEY-----\n")}
	var current atomic.Pointer[map[string][]byte]
	current.Store(&bad)
	s := startSink(t, r, "", WithSigning(func(context.Context) (git.Signer, error) { return SignerFromSecret(*current.Load()) }))
	results := examples(t)
	var last error
	require.EventuallyWithT(t, func(c *assertT) {
		_, last = s.Deliver(s.ctx, results[0])
		assert.Equal(c, ReasonSigningFailed, delivery.ReasonOf(last, ""), "error: %v", last)
	}, 10*time.Second, 20*time.Millisecond)
	assert.Contains(t, last.Error(), "identity is not an SSH private key")
	assert.NotContains(t, last.Error(), "bm90IGEga2V5")
	assert.Empty(t, testutil.GitOutput(r.bare, "branch", "--list", "main"), "nothing is pushed")

	current.Store(&good.Data)
	s.deliverAll(t, results...)
	ours := operatorCommits(t, r.bare, "main")
	require.Len(t, ours, 1)
	out, ok := testutil.VerifyCommit(t, r.bare, ours[0], good)
	assert.True(t, ok, out)
}

// TestSignerFromSecret: each wrong signing Secret is refused with what is wrong, naming the
// key, and never quoting the key or its passphrase.
func TestSignerFromSecret(t *testing.T) {
	pgp := testutil.OpenPGPKey(t, "meridio-operator@localhost", "")
	pgpEnc := testutil.OpenPGPKey(t, "meridio-operator@localhost", "right pass phrase")
	sshEnc := testutil.SSHKey(t, "right ssh phrase")
	garbage := []byte("-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nc2VjcmV0LWJ5dGVzLW5vdC1hLWtleQ==\n-----END PGP PRIVATE KEY BLOCK-----\n")
	with := func(base map[string][]byte, k, v string) map[string][]byte {
		out := map[string][]byte{}
		for key, val := range base {
			out[key] = val
		}
		if v == "" {
			delete(out, k)
		} else {
			out[k] = []byte(v)
		}
		return out
	}
	for name, tc := range map[string]struct {
		data map[string][]byte
		want string
	}{
		"empty":                   {map[string][]byte{}, "holds neither git.asc (OpenPGP) nor identity (SSH)"},
		"both":                    {map[string][]byte{SigningKeyOpenPGP: pgp.Data[SigningKeyOpenPGP], SigningKeySSH: sshEnc.Data[SigningKeySSH]}, "holds both git.asc and identity"},
		"pgp garbage":             {map[string][]byte{SigningKeyOpenPGP: garbage}, "git.asc is not an armored OpenPGP key"},
		"pgp not armored":         {map[string][]byte{SigningKeyOpenPGP: []byte("c2VjcmV0LWJ5dGVzLW5vdC1hLWtleQ==")}, "git.asc is not an armored OpenPGP key"},
		"pgp public only":         {map[string][]byte{SigningKeyOpenPGP: pgp.Public}, "git.asc holds a public key only"},
		"pgp without passphrase":  {with(pgpEnc.Data, SigningKeyPassphrase, ""), "git.asc is encrypted and there is no passphrase"},
		"pgp wrong passphrase":    {with(pgpEnc.Data, SigningKeyPassphrase, "wrong pass phrase"), "git.asc: cannot decrypt it with the passphrase"},
		"ssh garbage":             {map[string][]byte{SigningKeySSH: garbage}, "identity is not an SSH private key"},
		"ssh without passphrase":  {with(sshEnc.Data, SigningKeyPassphrase, ""), "identity is encrypted and there is no passphrase"},
		"ssh wrong passphrase":    {with(sshEnc.Data, SigningKeyPassphrase, "wrong ssh phrase"), "identity: cannot decrypt it with the passphrase"},
		"ssh public key given":    {map[string][]byte{SigningKeySSH: []byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl")}, "identity is not an SSH private key"},
		"pgp right passphrase ok": {pgpEnc.Data, ""},
		"ssh right passphrase ok": {sshEnc.Data, ""},
	} {
		t.Run(name, func(t *testing.T) {
			s, err := SignerFromSecret(tc.data)
			if tc.want == "" {
				require.NoError(t, err)
				sig, err := s.Sign(strings.NewReader("payload"))
				require.NoError(t, err)
				assert.Contains(t, string(sig), "-----BEGIN")
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			for _, secret := range []string{"c2VjcmV0LWJ5dGVz", "pass phrase", "ssh phrase", "AAAAC3Nza"} {
				assert.NotContains(t, err.Error(), secret)
			}
		})
	}
}
