// Package spiffecert serves the admission webhooks with an X509-SVID from the SPIFFE Workload
// API (a SPIRE agent) instead of a certificate on disk, and keeps the caBundle of the webhook
// configurations equal to the SVID's trust bundle. Both follow the agent's rotations while the
// operator runs: the server picks the current SVID at each TLS handshake, and the caBundle is
// rewritten when the bundle changes.
package spiffecert

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/go-logr/logr"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// EndpointSocketEnv is the environment variable SPIFFE workloads read the Workload API's
// address from.
const EndpointSocketEnv = "SPIFFE_ENDPOINT_SOCKET"

// Hint marks the SVID of the webhook server among the pod's SVIDs: the hint of config/'s
// ClusterSPIFFEID. A SPIRE that gives every pod an identity of its own sends two, and the
// first may lack the webhook Service's DNS name.
const Hint = "meridio-webhook"

// DefaultConfigurations are the webhook configurations config/ deploys.
var DefaultConfigurations = []string{"meridio-validating-webhook-configuration", "meridio-mutating-webhook-configuration"}

// Address is the Workload API's address: flag, else SPIFFE_ENDPOINT_SOCKET ("" when neither).
func Address(flag string) string {
	if flag != "" {
		return flag
	}
	return os.Getenv(EndpointSocketEnv)
}

// Open connects to the Workload API at addr (unix:///path) and waits for the first X509-SVID.
func Open(ctx context.Context, addr string) (*workloadapi.X509Source, error) {
	src, err := workloadapi.NewX509Source(ctx, workloadapi.WithClientOptions(workloadapi.WithAddr(addr)),
		workloadapi.WithDefaultX509SVIDPicker(pick))
	if err != nil {
		return nil, fmt.Errorf("SPIFFE Workload API at %s: %w", addr, err)
	}
	return src, nil
}

// pick chooses the SVID hinted Hint, else the first (one SVID usually has no hint).
func pick(svids []*x509svid.SVID) *x509svid.SVID {
	for _, s := range svids {
		if s.Hint == Hint {
			return s
		}
	}
	return svids[0]
}

// TLSOption makes a TLS server present the source's current X509-SVID, so that a rotated
// SVID is served from the next handshake on.
func TLSOption(src *workloadapi.X509Source) func(*tls.Config) {
	return func(c *tls.Config) { c.GetCertificate = tlsconfig.GetCertificate(src) }
}

// resync is how often the caBundle is checked without an update of the source: it repairs an
// edit or a re-created webhook configuration.
const resync = time.Minute

// CABundleKeeper keeps the caBundle of every webhook of the named webhook configurations equal
// to the trust bundle of the source's SVID. It is a manager Runnable that runs on every replica
// (each serves webhooks, and all write the same bundle).
type CABundleKeeper struct {
	// Client reads and writes the webhook configurations; it must not read from a namespaced
	// cache (they are cluster-scoped).
	Client client.Client
	// Source gives the SVID and its trust bundle.
	Source *workloadapi.X509Source
	// Names are the webhook configurations, each validating or mutating (a name neither kind
	// has is skipped: the mutating webhook is optional).
	Names []string
	// Log reports the caBundle writes and failures.
	Log logr.Logger
}

// NeedLeaderElection is false: a replica that is not the leader serves webhooks too.
func (k *CABundleKeeper) NeedLeaderElection() bool { return false }

// Start writes the caBundle now, then at each update of the source and every resync, until ctx
// ends. A failed write is retried within seconds (doubling up to resync): until it succeeds,
// the API server cannot call the webhooks.
func (k *CABundleKeeper) Start(ctx context.Context) error {
	wait := time.Duration(0)
	for {
		if err := k.Sync(ctx); err != nil {
			k.Log.Error(err, "keep the webhooks' caBundle")
			wait = min(max(2*wait, time.Second), resync)
		} else {
			wait = resync
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-k.Source.Updated():
		case <-timer.C:
		}
		timer.Stop()
	}
}

// Sync writes the current trust bundle into the webhook configurations that differ from it.
func (k *CABundleKeeper) Sync(ctx context.Context) error {
	bundle, err := k.caBundle()
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range k.Names {
		found := false
		for _, kind := range []string{"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"} {
			ok, err := k.write(ctx, name, kind, bundle)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s %s: %w", kind, name, err))
			}
			found = found || ok
		}
		if !found {
			k.Log.V(1).Info("no webhook configuration of this name", "name", name)
		}
	}
	return errors.Join(errs...)
}

// caBundle is the PEM of the X.509 authorities of the SVID's trust domain.
func (k *CABundleKeeper) caBundle() ([]byte, error) {
	svid, err := k.Source.GetX509SVID()
	if err != nil {
		return nil, err
	}
	b, err := k.Source.GetX509BundleForTrustDomain(svid.ID.TrustDomain())
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	for _, c := range b.X509Authorities() {
		_ = pem.Encode(&out, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	if out.Len() == 0 {
		return nil, fmt.Errorf("trust domain %s: no X.509 authorities", svid.ID.TrustDomain())
	}
	return out.Bytes(), nil
}

// write sets caBundle on every webhook of the configuration name of the kind given, if one
// exists and differs; it tells whether one exists.
func (k *CABundleKeeper) write(ctx context.Context, name, kind string, bundle []byte) (bool, error) {
	exists := true
	encoded := base64.StdEncoding.EncodeToString(bundle)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		obj := &unstructured.Unstructured{}
		obj.SetGroupVersionKind(admissionregistrationv1.SchemeGroupVersion.WithKind(kind))
		if err := k.Client.Get(ctx, types.NamespacedName{Name: name}, obj); err != nil {
			if apierrors.IsNotFound(err) {
				exists = false
				return nil
			}
			return err
		}
		webhooks, _, err := unstructured.NestedSlice(obj.Object, "webhooks")
		if err != nil {
			return err
		}
		changed := false
		for _, w := range webhooks {
			cc, _ := w.(map[string]any)["clientConfig"].(map[string]any)
			if cc != nil && cc["caBundle"] != encoded {
				cc["caBundle"], changed = encoded, true
			}
		}
		if !changed {
			return nil
		}
		if err := unstructured.SetNestedSlice(obj.Object, webhooks, "webhooks"); err != nil {
			return err
		}
		if err := k.Client.Update(ctx, obj); err != nil {
			return err
		}
		k.Log.Info("webhook caBundle updated from the SPIFFE trust bundle", "kind", kind, "name", name)
		return nil
	})
	return exists, err
}
