package testutil

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
)

// WorkloadAPI is a SPIFFE Workload API served on a unix socket, as a SPIRE agent serves it to
// a workload: it streams the current X509-SVID and trust bundle, and a new message at each
// rotation.
type WorkloadAPI struct {
	workload.UnimplementedSpiffeWorkloadAPIServer
	// Addr is the socket's address (unix:///...), what SPIFFE_ENDPOINT_SOCKET holds.
	Addr string

	mu      sync.Mutex
	current *workload.X509SVIDResponse
	changed chan struct{} // closed and replaced at each Serve
}

// StartWorkloadAPI serves a Workload API until the test ends; it has nothing to give until
// Serve is called.
func StartWorkloadAPI(t testing.TB) *WorkloadAPI {
	t.Helper()
	// Under /tmp rather than t.TempDir(): a unix socket's path is limited to about 100 bytes.
	dir, err := os.MkdirTemp("", "spiffe-")
	require.NoError(t, err)
	path := filepath.Join(dir, "agent.sock")
	l, err := net.Listen("unix", path)
	require.NoError(t, err)
	w := &WorkloadAPI{Addr: "unix://" + path, changed: make(chan struct{})}
	srv := grpc.NewServer()
	workload.RegisterSpiffeWorkloadAPIServer(srv, w)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() {
		srv.Stop()
		_ = os.RemoveAll(dir)
	})
	return w
}

// Serve makes svids (each signed by its CA) the workload's identities, in that order, and
// their CAs the trust bundles; every open stream receives them.
func (w *WorkloadAPI) Serve(svids ...*SVID) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.current = &workload.X509SVIDResponse{}
	for _, svid := range svids {
		w.current.Svids = append(w.current.Svids, &workload.X509SVID{
			SpiffeId:    svid.ID,
			X509Svid:    svid.Cert.Raw,
			X509SvidKey: svid.keyDER,
			Bundle:      svid.CA.Cert.Raw,
			Hint:        svid.Hint,
		})
	}
	close(w.changed)
	w.changed = make(chan struct{})
}

// FetchX509SVID streams the current SVID, and each one Serve gives after it.
func (w *WorkloadAPI) FetchX509SVID(_ *workload.X509SVIDRequest, stream grpc.ServerStreamingServer[workload.X509SVIDResponse]) error {
	for {
		w.mu.Lock()
		current, changed := w.current, w.changed
		w.mu.Unlock()
		if current != nil {
			if err := stream.Send(current); err != nil {
				return err
			}
		}
		select {
		case <-stream.Context().Done():
			return nil
		case <-changed:
		}
	}
}

// SPIFFECA is the X.509 authority of a trust domain, as a SPIRE server holds it.
type SPIFFECA struct {
	// TrustDomain is the domain's name (example.org).
	TrustDomain string
	// Cert is the self-signed authority, the trust bundle.
	Cert *x509.Certificate
	key  crypto.Signer
}

// NewSPIFFECA makes an authority for trustDomain.
func NewSPIFFECA(t testing.TB, trustDomain string) *SPIFFECA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{Organization: []string{"SPIFFE"}, CommonName: trustDomain},
		URIs:                  []*url.URL{{Scheme: "spiffe", Host: trustDomain}},
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return &SPIFFECA{TrustDomain: trustDomain, Cert: cert, key: key}
}

// SVID is an X509-SVID with its key.
type SVID struct {
	// ID is the SPIFFE ID (spiffe://trust-domain/path).
	ID string
	// Cert is the leaf certificate.
	Cert *x509.Certificate
	// CA signed it.
	CA *SPIFFECA
	// Hint is what the registration entry's hint says of it (SPIRE's ClusterSPIFFEID hint).
	Hint   string
	keyDER []byte
}

// Issue makes an X509-SVID for path in the CA's trust domain, valid for the DNS names and IP
// addresses given (as SPIRE issues one for an entry with DNS names).
func (ca *SPIFFECA) Issue(t testing.TB, path string, dnsNames []string, ips ...net.IP) *SVID {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	id := &url.URL{Scheme: "spiffe", Host: ca.TrustDomain, Path: path}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{Organization: []string{"SPIRE"}},
		URIs:                  []*url.URL{id},
		DNSNames:              dnsNames,
		IPAddresses:           ips,
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(time.Hour),
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageKeyAgreement,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	return &SVID{ID: id.String(), Cert: cert, CA: ca, keyDER: keyDER}
}

func serial(t testing.TB) *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	require.NoError(t, err)
	return n
}
