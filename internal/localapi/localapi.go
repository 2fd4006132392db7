// Package localapi starts a real kube-apiserver and etcd (through envtest) with the Meridio CRDs
// and admission webhooks installed, and a manager serving those webhooks. Tests use it in their
// TestMain and `meridio-operator run --local` uses it as an embedded cluster. The binaries come
// from KUBEBUILDER_ASSETS (default bin/), which `make testenv` builds from source.
package localapi

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/yaml"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/config"
	"github.com/meridio-operator/meridio-operator/internal/scheme"
	"github.com/meridio-operator/meridio-operator/render"
	"github.com/meridio-operator/meridio-operator/webhooks"
)

// Options choose what the environment serves.
type Options struct {
	// NoMutatingWebhook leaves the Gateway defaulting webhook out, as ENABLE_MUTATING_WEBHOOK=false does.
	NoMutatingWebhook bool
	// APIServerArgs are more flags of kube-apiserver (e.g. an audit log), by name without "--".
	APIServerArgs map[string]string
	// Settings are the render settings the webhooks check names with (nil: the defaults).
	Settings *render.Settings
	// NoWebhooks installs and serves no webhook at all: only the CRD schemas and the admission
	// policies guard the resources.
	NoWebhooks bool
	// ManagerOptions adjusts the manager before it is created (e.g. the cache's namespaces).
	ManagerOptions func(*ctrl.Options)
	// Setup registers more with the manager (e.g. reconcilers) before it starts.
	Setup func(ctrl.Manager) error
	// ManagerConfig adjusts the manager's copy of the API server config (e.g. to count requests).
	ManagerConfig func(*rest.Config)
}

// Env is a running API server with a manager.
type Env struct {
	// Config reaches the API server as an administrator.
	Config *rest.Config
	// Client talks to the API server directly (not through a cache).
	Client client.Client
	// Manager serves the webhooks and whatever Options.Setup added.
	Manager ctrl.Manager
	// KubeConfig is a kubeconfig file's content for an administrator of the API server.
	KubeConfig []byte
	// WebhookCertDir holds the serving certificate the webhook configurations trust.
	WebhookCertDir string

	env     *envtest.Environment
	certDir string
	// apiServerDown is set between StopAPIServer and StartAPIServer.
	apiServerDown bool
	cancel        context.CancelFunc
	done          chan error
}

// Scheme holds the built-in kinds, CRDs and the Meridio kinds.
func Scheme() *runtime.Scheme { return scheme.New() }

// Start starts etcd, kube-apiserver and a manager serving the webhooks.
func Start(opts Options) (*Env, error) {
	e, err := startControlPlane(opts)
	if err != nil {
		return nil, err
	}
	if err := e.startManager(opts); err != nil {
		return nil, e.stopWith(err)
	}
	return e, nil
}

// startControlPlane starts etcd and the API server with the CRDs (and the webhook
// configurations unless opts.NoWebhooks), and a client of it.
func startControlPlane(opts Options) (*Env, error) {
	assets, err := findAssets()
	if err != nil {
		return nil, err
	}
	var wh envtest.WebhookInstallOptions
	if !opts.NoWebhooks {
		if wh, err = webhookOptions(!opts.NoMutatingWebhook); err != nil {
			return nil, err
		}
	}
	crds, err := CRDs()
	if err != nil {
		return nil, err
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory:    assets,
		CRDs:                     crds,
		WebhookInstallOptions:    wh,
		Scheme:                   Scheme(),
		ControlPlaneStartTimeout: 2 * time.Minute,
		ControlPlaneStopTimeout:  time.Minute,
	}
	// The default /24 of Service addresses runs out after a few hundred Services, and no
	// namespace controller runs here to give them back.
	env.ControlPlane.GetAPIServer().Configure().Set("service-cluster-ip-range", "10.0.0.0/16")
	// As OpenShift does: setting an owner reference with blockOwnerDeletion needs update on
	// the owner's finalizers, which the operator's Role must grant.
	env.ControlPlane.GetAPIServer().Configure().Append("enable-admission-plugins", "OwnerReferencesPermissionEnforcement")
	for k, v := range opts.APIServerArgs {
		env.ControlPlane.GetAPIServer().Configure().Set(k, v)
	}
	// A certificate directory of our own, which envtest keeps when the API server stops, so
	// that RestartAPIServer brings it back with the same serving certificate and clients.
	certDir, err := os.MkdirTemp("", "meridio-apiserver-")
	if err != nil {
		return nil, err
	}
	env.ControlPlane.GetAPIServer().CertDir = certDir
	cfg, err := env.Start()
	if err != nil {
		_ = os.RemoveAll(certDir)
		return nil, fmt.Errorf("start envtest: %w", err)
	}
	e := &Env{Config: cfg, env: env, certDir: certDir, done: make(chan error, 1), KubeConfig: env.KubeConfig, WebhookCertDir: env.WebhookInstallOptions.LocalServingCertDir}
	if e.Client, err = client.New(cfg, client.Options{Scheme: env.Scheme}); err != nil {
		return nil, e.stopWith(err)
	}
	return e, nil
}

// startManager starts a manager with the webhooks (unless opts.NoWebhooks) and what opts.Setup
// adds, waits until it serves, and installs the admission policies.
func (e *Env) startManager(opts Options) error {
	wh := e.env.WebhookInstallOptions
	mo := ctrl.Options{
		Scheme:  e.env.Scheme,
		Metrics: metricsserver.Options{BindAddress: "0"},
		WebhookServer: webhook.NewServer(webhook.Options{
			Host: wh.LocalServingHost, Port: wh.LocalServingPort, CertDir: wh.LocalServingCertDir,
		}),
		HealthProbeBindAddress: "0",
	}
	if opts.ManagerOptions != nil {
		opts.ManagerOptions(&mo)
	}
	mcfg := rest.CopyConfig(e.Config)
	if opts.ManagerConfig != nil {
		opts.ManagerConfig(mcfg)
	}
	var err error
	if e.Manager, err = ctrl.NewManager(mcfg, mo); err != nil {
		return err
	}
	if !opts.NoWebhooks {
		set := render.DefaultSettings()
		if opts.Settings != nil {
			set = *opts.Settings
		}
		if err := webhooks.Setup(e.Manager, webhooks.Options{Mutating: !opts.NoMutatingWebhook, Settings: set}); err != nil {
			return err
		}
	}
	if opts.Setup != nil {
		if err := opts.Setup(e.Manager); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	go func() { e.done <- e.Manager.Start(ctx) }()
	if !opts.NoWebhooks {
		if err := waitForWebhooks(wh); err != nil {
			return err
		}
	}
	if !e.Manager.GetCache().WaitForCacheSync(ctx) {
		return fmt.Errorf("cache did not sync")
	}
	return installPolicies(ctx, e.Client)
}

// waitForWebhooks waits until the webhook server accepts TLS connections.
func waitForWebhooks(o envtest.WebhookInstallOptions) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		c := &webhookChecker{host: o.LocalServingHost, port: o.LocalServingPort, dir: o.LocalServingCertDir}
		err := c.check()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("webhook server not up: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (e *Env) stopWith(err error) error {
	if stopErr := e.Stop(); stopErr != nil {
		return fmt.Errorf("%w (and stopping: %v)", err, stopErr)
	}
	return err
}

// Stop stops the manager, kube-apiserver and etcd.
func (e *Env) Stop() error {
	if e.cancel != nil {
		e.cancel()
		<-e.done
	}
	defer os.RemoveAll(e.certDir)
	return e.env.Stop()
}

// StopAPIServer kills kube-apiserver (SIGKILL, as a crash of the control-plane node would) and
// leaves etcd running: to clients, the API server is gone until StartAPIServer. (A graceful
// stop waits for its clients' long requests and can take over a minute with an operator
// connected.)
func (e *Env) StopAPIServer() error {
	pid, err := processWithArg("--cert-dir=" + e.certDir)
	if err != nil {
		return fmt.Errorf("find kube-apiserver: %w", err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill kube-apiserver: %w", err)
	}
	e.apiServerDown = true
	// envtest reaps it; its Stop then finds it exited instead of signalling a process that
	// may be gone by then.
	for deadline := time.Now().Add(10 * time.Second); syscall.Kill(pid, 0) == nil && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	return e.env.ControlPlane.GetAPIServer().Stop() // clears envtest's state
}

// processWithArg finds the process with the argument given on its command line.
func processWithArg(arg string) (int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, en := range entries {
		pid, err := strconv.Atoi(en.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", en.Name(), "cmdline"))
		if err != nil {
			continue
		}
		for _, a := range strings.Split(string(cmdline), "\x00") {
			if a == arg {
				return pid, nil
			}
		}
	}
	return 0, fmt.Errorf("no process has %s", arg)
}

// StartAPIServer starts kube-apiserver again after StopAPIServer, on the same address, with
// the same certificates and over the same etcd, and waits until it is healthy.
func (e *Env) StartAPIServer() error {
	if !e.apiServerDown {
		// A second process would find the address taken, and outlive Stop.
		return fmt.Errorf("kube-apiserver is running")
	}
	if err := e.env.ControlPlane.GetAPIServer().Start(); err != nil {
		return err
	}
	e.apiServerDown = false
	return nil
}

// installPolicies creates the embedded admission policies (the immutable fields) and waits
// until the API server enforces them.
func installPolicies(ctx context.Context, c client.Client) error {
	files, err := fs.Glob(config.Manifests, "policy/*.yaml")
	if err != nil {
		return err
	}
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		data, err := config.Manifests.ReadFile(f)
		if err != nil {
			return err
		}
		objs, err := DecodeYAML(data)
		if err != nil {
			return fmt.Errorf("decode %s: %w", f, err)
		}
		for _, o := range objs {
			if err := c.Create(ctx, o); err != nil {
				return fmt.Errorf("install %s %s: %w", o.GetKind(), o.GetName(), err)
			}
		}
	}
	return waitForPolicies(ctx, c)
}

// waitForPolicies changes the IP family of a throw-away trench until the API server refuses it:
// policies take effect a moment after they are created.
func waitForPolicies(ctx context.Context, c client.Client) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "meridio-policy-probe"}}
	if err := c.Create(ctx, ns); err != nil {
		return err
	}
	probe := &meridiov1.Trench{ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: ns.Name}, Spec: meridiov1.TrenchSpec{IPFamily: meridiov1.IPv4}}
	if err := c.Create(ctx, probe); err != nil {
		return err
	}
	other := map[string]string{meridiov1.IPv4: meridiov1.IPv6, meridiov1.IPv6: meridiov1.IPv4}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if err := c.Get(ctx, client.ObjectKeyFromObject(probe), probe); err != nil {
			return err
		}
		probe.Spec.IPFamily = other[probe.Spec.IPFamily]
		switch err := c.Update(ctx, probe); {
		case apierrors.IsForbidden(err):
			return c.Delete(ctx, probe)
		case err != nil && !apierrors.IsConflict(err):
			return fmt.Errorf("probe the admission policies: %w", err)
		}
	}
	return fmt.Errorf("the admission policies are not enforced after 30s")
}

// findAssets returns KUBEBUILDER_ASSETS, or else the nearest bin/ directory above the working
// directory that holds kube-apiserver.
func findAssets() (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "bin", "kube-apiserver")); err == nil {
			return filepath.Join(dir, "bin"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no bin/kube-apiserver found: run `make testenv` to build it from source, or set KUBEBUILDER_ASSETS")
		}
		dir = parent
	}
}

// CRDs returns the embedded Meridio CRDs.
func CRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	files, err := fs.Glob(config.Manifests, "crd/bases/*.yaml")
	if err != nil {
		return nil, err
	}
	var crds []*apiextensionsv1.CustomResourceDefinition
	for _, f := range files {
		data, err := config.Manifests.ReadFile(f)
		if err != nil {
			return nil, err
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict(data, crd); err != nil {
			return nil, fmt.Errorf("decode %s: %w", f, err)
		}
		crds = append(crds, crd)
	}
	return crds, nil
}

// webhookOptions reads the embedded webhook configurations, leaving the mutating one out unless
// mutating is true.
func webhookOptions(mutating bool) (envtest.WebhookInstallOptions, error) {
	var o envtest.WebhookInstallOptions
	data, err := config.Manifests.ReadFile("webhook/manifests.yaml")
	if err != nil {
		return o, err
	}
	objs, err := DecodeYAML(data)
	if err != nil {
		return o, fmt.Errorf("decode webhook manifests: %w", err)
	}
	for _, u := range objs {
		switch u.GetKind() {
		case "ValidatingWebhookConfiguration":
			c := &admissionv1.ValidatingWebhookConfiguration{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, c); err != nil {
				return o, err
			}
			o.ValidatingWebhooks = append(o.ValidatingWebhooks, c)
		case "MutatingWebhookConfiguration":
			c := &admissionv1.MutatingWebhookConfiguration{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, c); err != nil {
				return o, err
			}
			if mutating {
				o.MutatingWebhooks = append(o.MutatingWebhooks, c)
			}
		}
	}
	return o, nil
}
