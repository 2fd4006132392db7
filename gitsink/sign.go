package gitsink

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"
)

// ReasonSigningFailed: the signing key could not be read or used; nothing is pushed unsigned.
const ReasonSigningFailed = "GitSigningFailed"

// Keys of a signing Secret: an armored OpenPGP private key (as Flux's image automation reads
// it) or an SSH private key, with an optional passphrase for either.
const (
	SigningKeyOpenPGP    = "git.asc"
	SigningKeySSH        = "identity"
	SigningKeyPassphrase = "passphrase"
)

// SignerFunc returns the signer of the next commit; it is called before each commit, so a
// rotated key takes effect without a restart. Its errors must not quote key material.
type SignerFunc func(ctx context.Context) (git.Signer, error)

// WithSigning signs every commit with the signer f returns. A commit that cannot be signed is
// not pushed: the write fails with ReasonSigningFailed.
func WithSigning(f SignerFunc) Option { return func(r *Repository) { r.signer = f } }

// SignerFromSecret reads a signing Secret's data: `git.asc` gives OpenPGP signatures, as `git`
// makes with gpg; `identity` gives SSH signatures, as `git` makes with gpg.format=ssh. The
// errors name the key that is wrong, never its content.
func SignerFromSecret(data map[string][]byte) (git.Signer, error) {
	pgp, sshKey := data[SigningKeyOpenPGP], data[SigningKeySSH]
	passphrase := data[SigningKeyPassphrase]
	switch {
	case len(pgp) > 0 && len(sshKey) > 0:
		return nil, fmt.Errorf("holds both %s and %s: keep one", SigningKeyOpenPGP, SigningKeySSH)
	case len(pgp) > 0:
		return openPGPSigner(pgp, passphrase)
	case len(sshKey) > 0:
		return sshSigner(sshKey, passphrase)
	default:
		return nil, fmt.Errorf("holds neither %s (OpenPGP) nor %s (SSH)", SigningKeyOpenPGP, SigningKeySSH)
	}
}

// pgpSigner makes armored detached OpenPGP signatures.
type pgpSigner struct{ entity *openpgp.Entity }

func (s pgpSigner) Sign(message io.Reader) ([]byte, error) {
	var b bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&b, s.entity, message, &packet.Config{}); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func openPGPSigner(armored, passphrase []byte) (git.Signer, error) {
	entities, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(armored))
	if err != nil {
		return nil, fmt.Errorf("%s is not an armored OpenPGP key: %w", SigningKeyOpenPGP, keyError(err))
	}
	if len(entities) != 1 {
		return nil, fmt.Errorf("%s holds %d keys: want one", SigningKeyOpenPGP, len(entities))
	}
	e := entities[0]
	if e.PrivateKey == nil {
		return nil, fmt.Errorf("%s holds a public key only: the private key is needed", SigningKeyOpenPGP)
	}
	if e.PrivateKey.Encrypted {
		if len(passphrase) == 0 {
			return nil, fmt.Errorf("%s is encrypted and there is no %s", SigningKeyOpenPGP, SigningKeyPassphrase)
		}
		if err := e.DecryptPrivateKeys(passphrase); err != nil {
			return nil, fmt.Errorf("%s: cannot decrypt it with the %s", SigningKeyOpenPGP, SigningKeyPassphrase)
		}
	}
	if _, ok := e.SigningKey(e.PrimaryKey.CreationTime.AddDate(0, 0, 1)); !ok {
		return nil, fmt.Errorf("%s has no usable signing key (expired or revoked?)", SigningKeyOpenPGP)
	}
	return pgpSigner{entity: e}, nil
}

// sshSignerImpl makes armored SSH signatures in the "git" namespace.
type sshSignerImpl struct{ key ssh.Signer }

func (s sshSignerImpl) Sign(message io.Reader) ([]byte, error) {
	sig, err := sshsig.Sign(message, s.key, sshsig.HashSHA512, "git")
	if err != nil {
		return nil, err
	}
	return sshsig.Armor(sig), nil
}

func sshSigner(pemKey, passphrase []byte) (git.Signer, error) {
	var key ssh.Signer
	var err error
	if len(passphrase) > 0 {
		key, err = ssh.ParsePrivateKeyWithPassphrase(pemKey, passphrase)
	} else {
		key, err = ssh.ParsePrivateKey(pemKey)
	}
	var missing *ssh.PassphraseMissingError
	switch {
	case errors.As(err, &missing):
		return nil, fmt.Errorf("%s is encrypted and there is no %s", SigningKeySSH, SigningKeyPassphrase)
	case errors.Is(err, x509.IncorrectPasswordError):
		return nil, fmt.Errorf("%s: cannot decrypt it with the %s", SigningKeySSH, SigningKeyPassphrase)
	case err != nil:
		return nil, fmt.Errorf("%s is not an SSH private key: %w", SigningKeySSH, keyError(err))
	}
	return sshSignerImpl{key: key}, nil
}

// keyError keeps a parser's error short and free of what it parsed.
func keyError(err error) error {
	msg := err.Error()
	if len(msg) > 120 {
		msg = msg[:120]
	}
	return errors.New(msg)
}

// sign sets the signature of c, made by signer over c's encoding without it.
func sign(c *object.Commit, signer git.Signer) error {
	encoded := &plumbing.MemoryObject{}
	if err := c.EncodeWithoutSignature(encoded); err != nil {
		return err
	}
	r, err := encoded.Reader()
	if err != nil {
		return err
	}
	sig, err := signer.Sign(r)
	if err != nil {
		return &Error{Reason: ReasonSigningFailed, Err: fmt.Errorf("sign the commit: %w", keyError(err))}
	}
	c.PGPSignature = string(sig)
	return nil
}

// signerNow reads the signer of the next commit (nil when commits are not signed).
func (r *Repository) signerNow(ctx context.Context) (git.Signer, error) {
	if r.signer == nil {
		return nil, nil
	}
	s, err := r.signer(ctx)
	if err != nil {
		return nil, &Error{Reason: ReasonSigningFailed, Err: err}
	}
	return s, nil
}
