package gitsink

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"

	fluxknownhosts "github.com/fluxcd/pkg/ssh/knownhosts"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// hostKeyCheck returns the host key callback of known_hosts content (parsed in memory by
// Flux's knownhosts package, as Flux's own controllers do) and the host key algorithms to
// offer to addr (host:port): those of the entries for addr, so that a server holding several
// host keys shows the one that is known. Hosts that are not in known_hosts are refused.
func hostKeyCheck(data []byte, addr string) (ssh.HostKeyCallback, []string, error) {
	cb, _, err := fluxknownhosts.New(data)
	if err != nil {
		return nil, nil, fmt.Errorf("read known_hosts: %w", err)
	}
	algos, err := hostKeyAlgorithms(data, addr)
	if err != nil {
		return nil, nil, fmt.Errorf("read known_hosts: %w", err)
	}
	return explainHostKey(cb), algos, nil
}

// hostKeyAlgorithms lists, most preferred first, the algorithms of the known_hosts entries
// that match addr; nil when none does (the callback then refuses the host whatever it shows).
// Whether an entry matches is asked of the same knownhosts package, entry by entry, so that
// host patterns, hashed names and ports mean what they mean to the callback.
func hostKeyAlgorithms(data []byte, addr string) ([]string, error) {
	probe := &net.TCPAddr{IP: net.IPv4zero}
	have := map[string]bool{}
	for rest := data; len(rest) > 0; {
		marker, hosts, key, _, next, err := ssh.ParseKnownHosts(rest)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		rest = next
		if marker == "revoked" {
			continue
		}
		// One entry, without its marker: does the callback accept its key for addr?
		line := strings.Join(hosts, ",") + " " + key.Type() + " " + base64.StdEncoding.EncodeToString(key.Marshal())
		one, _, err := fluxknownhosts.New([]byte(line))
		if err != nil {
			return nil, err
		}
		if one(addr, probe, key) != nil {
			continue
		}
		if marker == "cert-authority" {
			// The host shows a certificate signed by this key, of whatever type.
			for _, a := range certAlgorithms {
				have[a] = true
			}
			continue
		}
		for _, a := range algorithmsOf(key.Type()) {
			have[a] = true
		}
	}
	var out []string
	for _, a := range preferredAlgorithms {
		if have[a] {
			out = append(out, a)
			delete(have, a)
		}
	}
	rest := make([]string, 0, len(have))
	for a := range have {
		rest = append(rest, a) // a key type newer than this list
	}
	slices.Sort(rest)
	return append(out, rest...), nil
}

// algorithmsOf returns the signature algorithms that a host key of this type can show: an RSA
// key signs with SHA-2 (servers refuse ssh-rsa, which is SHA-1, by default).
func algorithmsOf(keyType string) []string {
	switch keyType {
	case ssh.KeyAlgoRSA:
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	case ssh.CertAlgoRSAv01:
		return []string{ssh.CertAlgoRSASHA512v01, ssh.CertAlgoRSASHA256v01, ssh.CertAlgoRSAv01}
	}
	return []string{keyType}
}

var certAlgorithms = []string{
	ssh.CertAlgoED25519v01, ssh.CertAlgoECDSA256v01, ssh.CertAlgoECDSA384v01, ssh.CertAlgoECDSA521v01,
	ssh.CertAlgoSKED25519v01, ssh.CertAlgoSKECDSA256v01,
	ssh.CertAlgoRSASHA512v01, ssh.CertAlgoRSASHA256v01, ssh.CertAlgoRSAv01,
}

// preferredAlgorithms is the order of preference: certificates, then the strongest keys,
// SHA-1 RSA last.
var preferredAlgorithms = append(slices.Clone(certAlgorithms),
	ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521,
	ssh.KeyAlgoSKED25519, ssh.KeyAlgoSKECDSA256,
	ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA,
)

// explainHostKey makes the callback's refusals say which host and key were refused.
func explainHostKey(cb ssh.HostKeyCallback) ssh.HostKeyCallback {
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		err := cb(hostname, remote, key)
		var ke *knownhosts.KeyError
		if err == nil || !errors.As(err, &ke) {
			return err
		}
		shown := key.Type() + " " + ssh.FingerprintSHA256(key)
		if len(ke.Want) == 0 {
			return fmt.Errorf("knownhosts: %s is not in known_hosts (it shows the host key %s)", hostname, shown)
		}
		var want []string
		for _, k := range ke.Want {
			want = append(want, k.Key.Type()+" "+ssh.FingerprintSHA256(k.Key))
		}
		return fmt.Errorf("knownhosts: the host key of %s, %s, is not the one in known_hosts (%s)", hostname, shown, strings.Join(want, ", "))
	}
}
