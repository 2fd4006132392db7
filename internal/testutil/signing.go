package testutil

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
)

// SigningKey is a commit signing key as a signing Secret holds it, and what
// `git verify-commit` needs to trust it.
type SigningKey struct {
	// Data is the Secret's data: git.asc or identity, and passphrase when the key is encrypted.
	Data map[string][]byte
	// Public is the armored OpenPGP public key, or the SSH authorized_keys line.
	Public []byte
	// Entity is the OpenPGP key (nil for SSH).
	Entity *openpgp.Entity
	ssh    bool
}

// OpenPGPKey is a new OpenPGP key for email, encrypted with passphrase unless it is empty.
func OpenPGPKey(t testing.TB, email, passphrase string) SigningKey {
	t.Helper()
	e, err := openpgp.NewEntity("meridio-operator", "test", email, &packet.Config{RSABits: 2048})
	require.NoError(t, err)
	k := SigningKey{Data: map[string][]byte{}, Entity: e}
	k.Public = armored(t, openpgp.PublicKeyType, e.Serialize)
	if passphrase != "" {
		require.NoError(t, e.EncryptPrivateKeys([]byte(passphrase), nil))
		k.Data["passphrase"] = []byte(passphrase)
	}
	k.Data["git.asc"] = armored(t, openpgp.PrivateKeyType, func(w io.Writer) error { return e.SerializePrivateWithoutSigning(w, nil) })
	return k
}

func armored(t testing.TB, blockType string, write func(w io.Writer) error) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := armor.Encode(&b, blockType, nil)
	require.NoError(t, err)
	require.NoError(t, write(w))
	require.NoError(t, w.Close())
	return b.Bytes()
}

// SSHKey is a new ed25519 SSH key, encrypted with passphrase unless it is empty.
func SSHKey(t testing.TB, passphrase string) SigningKey {
	t.Helper()
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	var block *pem.Block
	if passphrase != "" {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(key, "", []byte(passphrase))
	} else {
		block, err = ssh.MarshalPrivateKey(key, "")
	}
	require.NoError(t, err)
	sshPub, err := ssh.NewPublicKey(pub)
	require.NoError(t, err)
	k := SigningKey{Data: map[string][]byte{"identity": pem.EncodeToMemory(block)}, Public: ssh.MarshalAuthorizedKey(sshPub), ssh: true}
	if passphrase != "" {
		k.Data["passphrase"] = []byte(passphrase)
	}
	return k
}

// Trust returns what makes `git verify-commit` trust the key: `-c` options of git, and
// environment variables (a gnupg home with the public key imported, or an allowed-signers
// file).
func (k SigningKey) Trust(t testing.TB) (gitArgs, env []string) {
	t.Helper()
	if k.ssh {
		f := filepath.Join(t.TempDir(), "allowed_signers")
		require.NoError(t, os.WriteFile(f, append([]byte(`meridio-operator@localhost namespaces="git" `), k.Public...), 0o600))
		return []string{"-c", "gpg.format=ssh", "-c", "gpg.ssh.allowedSignersFile=" + f}, nil
	}
	home := gnupgHome(t)
	cmd := exec.Command("gpg", "--batch", "--import")
	cmd.Env = append(os.Environ(), "GNUPGHOME="+home)
	cmd.Stdin = bytes.NewReader(k.Public)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "gpg --import: %s", out)
	return nil, []string{"GNUPGHOME=" + home}
}

// gnupgHome is an empty gnupg home, short enough for gpg-agent's socket path.
func gnupgHome(t testing.TB) string {
	t.Helper()
	home, err := os.MkdirTemp("", "gpg")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(home, 0o700))
	t.Cleanup(func() {
		kill := exec.Command("gpgconf", "--kill", "all")
		kill.Env = append(os.Environ(), "GNUPGHOME="+home)
		_ = kill.Run()
		_ = os.RemoveAll(home)
	})
	return home
}

// VerifyCommit runs the real `git verify-commit` on a commit of the repository in dir, with
// the key trusted; it returns git's output and whether the signature is good.
func VerifyCommit(t testing.TB, dir, commit string, key SigningKey) (string, bool) {
	t.Helper()
	args, env := key.Trust(t)
	cmd := exec.Command("git", append(args, "verify-commit", "-v", commit)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err == nil
}
