package cli

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	uzap "go.uber.org/zap/zapcore"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/meridio-operator/meridio-operator/controllers"
	"github.com/meridio-operator/meridio-operator/gitsink"
	"github.com/meridio-operator/meridio-operator/internal/restmapping"
	"github.com/meridio-operator/meridio-operator/internal/scheme"
	"github.com/meridio-operator/meridio-operator/internal/spiffecert"
	"github.com/meridio-operator/meridio-operator/render"
	"github.com/meridio-operator/meridio-operator/webhooks"
)

// runOptions are the flags of the run command.
type runOptions struct {
	namespace      string
	metricsAddr    string
	probeAddr      string
	leaderElect    bool
	lease          leaseOptions
	webhookPort    int
	pprofAddr      string
	metricsSecure  bool
	webhooks       bool
	webhookCertDir string
	webhookCerts   webhookCertOptions
	mutating       bool
	sink           string
	logLevel       string
	templates      string
	local          bool
	apply          string
	keepRunning    bool
	kubeconfigOut  string
	workers        int
	qps            float64
	burst          int
	git            gitOptions
}

// webhookCertOptions say where the webhook server's certificate comes from.
type webhookCertOptions struct {
	// source is dir (--webhook-cert-dir, e.g. cert-manager's Secret) or spiffe (the Workload API).
	source string
	// socket is the Workload API's address ("" reads SPIFFE_ENDPOINT_SOCKET).
	socket string
	// configurations are the webhook configurations whose caBundle follows the SPIFFE bundle.
	configurations string
}

// leaseOptions are the timings of leader election (controller-runtime's defaults).
type leaseOptions struct {
	duration, renewDeadline, retryPeriod time.Duration
}

// gitOptions are the flags of git mode.
type gitOptions struct {
	url, branch, path, pushBranch, secret string
	signingSecret, commitTemplate         string
	pullRequest, commitStatus, forgeAPI   string
	// template is the parsed --git-commit-template, set by check.
	template                          *gitsink.MessageTemplate
	authorName, authorEmail, cloneDir string
	commitDelay                       time.Duration
	verify                            bool
	verifyFieldManager                string
	overwrite                         bool
	pollInterval                      time.Duration
}

func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

// serviceAccountNamespace is the file that names a pod's namespace.
const serviceAccountNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// ownNamespace is the namespace the operator runs in, as far as it can tell: POD_NAMESPACE, else
// its service account's; "" outside a pod without POD_NAMESPACE.
func ownNamespace() string {
	if v := os.Getenv("POD_NAMESPACE"); v != "" {
		return v
	}
	if data, err := os.ReadFile(serviceAccountNamespace); err == nil {
		return strings.TrimSpace(string(data))
	}
	return ""
}

// podNamespace is the namespace to watch: WATCH_NAMESPACE when set (empty meaning all, as in
// the reference operator), else the operator's own, else "" (all namespaces: the operator runs
// outside a cluster).
func podNamespace() string {
	if v, ok := os.LookupEnv("WATCH_NAMESPACE"); ok {
		return v
	}
	return ownNamespace()
}

// metricsOptions serves the metrics in plain HTTP, or with --metrics-secure over HTTPS (a
// self-signed certificate) behind the API server's authentication and authorization.
func metricsOptions(o runOptions) metricsserver.Options {
	m := metricsserver.Options{BindAddress: o.metricsAddr}
	if o.metricsSecure {
		m.SecureServing = true
		m.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	return m
}

// leaseNamespace is where the leader election lease is kept: the pod's namespace in a pod
// ("" lets controller-runtime find it), else the operator's own, else the watched one, else
// default.
func leaseNamespace(watched string) string {
	if _, err := os.Stat(serviceAccountNamespace); err == nil {
		return ""
	}
	return cmp.Or(ownNamespace(), watched, "default")
}

// checkArgs refuses what the flag package lets through: stray arguments (a flag after one is
// not parsed at all), and the flags of --local without it.
func (o *runOptions) checkArgs(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return fmt.Errorf("run: unexpected argument %q (flags after it are not read): every setting is a flag", fs.Arg(0))
	}
	switch o.webhookCerts.source {
	case "dir", "spiffe":
	default:
		return fmt.Errorf("run: --webhook-cert-source %q: want dir or spiffe", o.webhookCerts.source)
	}
	if given := givenFlags(fs, "spiffe-endpoint-socket", "webhook-configurations"); o.webhookCerts.source != "spiffe" && len(given) > 0 {
		return fmt.Errorf("run: %s needs --webhook-cert-source=spiffe", strings.Join(given, ", "))
	}
	if given := givenFlags(fs, "apply", "keep-running", "write-kubeconfig"); !o.local && len(given) > 0 {
		verb := "works"
		if len(given) > 1 {
			verb = "work"
		}
		return fmt.Errorf("run: %s only %s with --local", strings.Join(given, ", "), verb)
	}
	return nil
}

// givenFlags are those of names set on the command line, as --name, sorted (as flag.Visit goes).
func givenFlags(fs *flag.FlagSet, names ...string) []string {
	var given []string
	fs.Visit(func(f *flag.Flag) {
		if slices.Contains(names, f.Name) {
			given = append(given, "--"+f.Name)
		}
	})
	return given
}

// runFlags declares the flags of run, into o.
func runFlags(o *runOptions, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.namespace, "namespace", podNamespace(), `namespace whose Meridio resources are reconciled; "" for all (default: the operator's own)`)
	fs.StringVar(&o.metricsAddr, "metrics-bind-address", ":8080", "address of the metrics endpoint (0 turns it off)")
	fs.BoolVar(&o.metricsSecure, "metrics-secure", false, "serve the metrics over HTTPS to clients the API server authenticates (TokenReview) and authorizes (SubjectAccessReview of GET /metrics); needs the ClusterRoles of config/metrics-auth")
	fs.StringVar(&o.pprofAddr, "pprof-bind-address", "", "address of the Go profiler's endpoints (/debug/pprof); empty turns it off")
	fs.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "address of /healthz and /readyz")
	fs.BoolVar(&o.leaderElect, "leader-elect", false, "elect a leader, so that only one replica reconciles")
	fs.DurationVar(&o.lease.duration, "leader-election-lease-duration", 15*time.Second, "how long a follower waits before taking over a lease its leader stopped renewing (a leader that stops cleanly hands over at once)")
	fs.DurationVar(&o.lease.renewDeadline, "leader-election-renew-deadline", 10*time.Second, "how long the leader keeps trying to renew its lease before it gives up leading")
	fs.DurationVar(&o.lease.retryPeriod, "leader-election-retry-period", 2*time.Second, "how often the replicas try to acquire or renew the lease")
	fs.IntVar(&o.webhookPort, "webhook-port", 9443, "port of the admission webhook server")
	fs.StringVar(&o.webhookCertDir, "webhook-cert-dir", "/tmp/k8s-webhook-server/serving-certs", "directory of the webhook server's tls.crt and tls.key")
	fs.StringVar(&o.webhookCerts.source, "webhook-cert-source", "dir", "where the webhook server's certificate comes from: dir (--webhook-cert-dir, reloaded when it changes) or spiffe (an X509-SVID from the SPIFFE Workload API, rotated in place; the caBundle of --webhook-configurations follows its trust bundle)")
	fs.StringVar(&o.webhookCerts.socket, "spiffe-endpoint-socket", "", "with --webhook-cert-source=spiffe: the Workload API's address, unix:///path (default: $SPIFFE_ENDPOINT_SOCKET)")
	fs.StringVar(&o.webhookCerts.configurations, "webhook-configurations", strings.Join(spiffecert.DefaultConfigurations, ","), "with --webhook-cert-source=spiffe: the webhook configurations (comma-separated) whose caBundle the operator keeps equal to the SPIFFE trust bundle")
	fs.BoolVar(&o.webhooks, "enable-webhooks", envOr("ENABLE_WEBHOOKS", "true") != "false", "serve the admission webhooks (ENABLE_WEBHOOKS); without them only the CRD schemas and the admission policies of config/policy guard the resources")
	fs.BoolVar(&o.mutating, "enable-mutating-webhook", envOr("ENABLE_MUTATING_WEBHOOK", "true") != "false", "serve the Gateway defaulting webhook (ENABLE_MUTATING_WEBHOOK)")
	fs.StringVar(&o.sink, "sink", "cluster", "where rendered objects go: cluster (applied to this cluster) or git (committed for Flux or Argo CD)")
	gitFlags(fs, &o.git)
	fs.IntVar(&o.workers, "max-concurrent-reconciles", 4, "how many trenches are reconciled at once")
	fs.Float64Var(&o.qps, "kube-api-qps", 50, "requests per second the operator may send to the API server")
	fs.IntVar(&o.burst, "kube-api-burst", 300, "requests the operator may send to the API server in a burst")
	fs.StringVar(&o.logLevel, "log-level", "info", "operator log level: debug, info or error")
	fs.StringVar(&o.templates, "resource-templates", os.Getenv("RESOURCE_TEMPLATES_DIR"), "directory of user resource-requirement templates")
	fs.BoolVar(&o.local, "local", false, "start an embedded kube-apiserver and etcd (from bin/, see make testenv) instead of using a cluster")
	fs.StringVar(&o.apply, "apply", "", "with --local: a directory of Meridio resources to create once the operator runs")
	fs.BoolVar(&o.keepRunning, "keep-running", false, "with --local: keep running after the applied resources converge")
	fs.StringVar(&o.kubeconfigOut, "write-kubeconfig", "", "with --local: write a kubeconfig for the embedded API server to this file (for kubectl)")
	return fs
}

// gitFlags declares the flags of git mode, into g.
func gitFlags(fs *flag.FlagSet, g *gitOptions) {
	fs.StringVar(&g.url, "git-url", "", "git mode: the repository: https://, http://, ssh://, git:// or file:// (scp-style git@host:path is written ssh://git@host/path; user info is taken as credentials and never shown)")
	fs.StringVar(&g.branch, "git-branch", "main", "git mode: the branch Flux or Argo CD applies")
	fs.StringVar(&g.path, "git-path", "", "git mode: the directory of the repository the operator owns (default: the root); nothing outside it is touched")
	fs.StringVar(&g.pushBranch, "git-push-branch", "", "git mode: push to this branch instead, rebuilt on top of --git-branch, to review changes as a pull request")
	fs.StringVar(&g.secret, "git-secret", "", "git mode: a Secret in the operator's namespace with the keys of a Flux GitRepository secret (username/password, bearerToken, identity + known_hosts, ca.crt, tls.crt + tls.key, proxy)")
	fs.StringVar(&g.signingSecret, "git-signing-secret", "", "git mode: a Secret in the operator's namespace whose key signs every commit: git.asc (armored OpenPGP private key) or identity (SSH private key, signatures as git's gpg.format=ssh), with an optional passphrase; read before each commit")
	fs.StringVar(&g.commitTemplate, "git-commit-template", "", "git mode: a Go text/template file (sprig's functions) writing the commit messages; see `meridio-operator template-message`; the Meridio-Trench/Meridio-Source trailers are appended whatever it writes")
	fs.StringVar(&g.pullRequest, "git-pull-request", "", "git mode, with --git-push-branch: open and keep up to date one pull request from the push branch to --git-branch on this forge: github, gitlab, gitea or auto (from the URL's host); the API token is the Git Secret's password or bearerToken; commit statuses are posted too")
	fs.StringVar(&g.commitStatus, "git-commit-status", "", "git mode: post a commit status meridio/<namespace>/<trench> on each trench's commit on this forge (github, gitlab, gitea or auto), without a pull request")
	fs.StringVar(&g.forgeAPI, "git-forge-api-url", "", "git mode: the forge's API base URL, for GitHub Enterprise (https://host/api/v3), self-hosted GitLab (https://host/api/v4) or Gitea (https://host/); default: from the repository URL")
	fs.StringVar(&g.authorName, "git-author-name", "meridio-operator", "git mode: author and committer name of the commits")
	fs.StringVar(&g.authorEmail, "git-author-email", "meridio-operator@localhost", "git mode: author and committer email of the commits")
	fs.DurationVar(&g.commitDelay, "git-commit-delay", 200*time.Millisecond, "git mode: coalescing window: changes are committed together once none has arrived for this long (longer when they come slower, at most 25 times as long); a lone change goes at once")
	fs.BoolVar(&g.verify, "git-verify", true, "git mode: dry-run every object of a changed render with server-side apply on this cluster before committing it; a render the API server refuses is not committed (needs patch on the workload kinds; turn off for repositories aimed at another cluster)")
	fs.StringVar(&g.verifyFieldManager, "git-verify-field-manager", gitsink.DefaultVerifyFieldManager, "git mode: the field manager of the dry runs (the GitOps tool's)")
	fs.BoolVar(&g.overwrite, "git-overwrite-external-changes", false, "git mode: let renders replace files someone else edited in the operator's directories, even when the trench's resources did not change (by default such edits are reported as ExternalModification and kept)")
	fs.DurationVar(&g.pollInterval, "git-poll-interval", time.Minute, "git mode: how often the branch is read for changes pushed by others (outside edits of the operator's directories are then reported); 0 reads it only when writing")
	fs.StringVar(&g.cloneDir, "git-clone-dir", "", "git mode: where the local clone is kept across restarts (default: a directory under the system's temporary directory)")
}

func runCommand(args []string, stdout, stderr io.Writer) int {
	o := runOptions{}
	fs := runFlags(&o, stderr)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if err := o.checkArgs(fs); err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	log, closeLog, code := o.logger(stderr)
	if code != 0 {
		return code
	}
	defer closeLog()
	ctrl.SetLogger(log)
	if err := o.check(); err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	settings, err := render.SettingsFromEnv(os.LookupEnv, o.templates)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if o.local && o.namespace == "" {
		o.namespace = "default" // where the embedded server's examples go
	}
	if o.local {
		err = runLocal(ctx, o, settings, stdout)
	} else {
		err = runInCluster(ctx, o, settings)
	}
	var plain *plainError
	if errors.As(err, &plain) {
		fmt.Fprintln(stderr, "run: "+plain.Error())
		return 1
	}
	if err != nil {
		log.Error(err, "operator stopped")
		return 1
	}
	return 0
}

// logger is the controllers' logger: to stderr, or with --local to the file the report names
// (the report goes to stdout). A non-zero code is the exit status of a failure it printed.
func (o runOptions) logger(stderr io.Writer) (log logr.Logger, closeLog func(), code int) {
	logOut, closeLog := io.Writer(stderr), func() {}
	if o.local && o.logLevel != "debug" && localLogFile() != "" {
		f, err := os.Create(localLogFile())
		if err != nil {
			fmt.Fprintln(stderr, err)
			return log, closeLog, 1
		}
		logOut, closeLog = f, func() { _ = f.Close() }
	}
	log, err := newLogger(o.logLevel, logOut)
	if err != nil {
		closeLog()
		fmt.Fprintln(stderr, err)
		return log, func() {}, 2
	}
	return log, closeLog, 0
}

// plainError is a mistake of the setup found before the manager starts: one plain line for
// the user, not a log entry with a stack trace.
type plainError struct{ msg string }

func (e *plainError) Error() string { return e.msg }

// clusterConfig finds the cluster as kubectl does ($KUBECONFIG, else ~/.kube/config), or the
// one the pod runs in.
func clusterConfig() (*rest.Config, error) {
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(clientcmd.NewDefaultClientConfigLoadingRules(), &clientcmd.ConfigOverrides{})
	cfg, err := loader.ClientConfig()
	switch {
	case clientcmd.IsEmptyConfig(err):
		return nil, &plainError{"no cluster found: not in a pod, and no kubeconfig ($KUBECONFIG or ~/.kube/config); point KUBECONFIG at one, or try --local for an embedded API server"}
	case err != nil:
		return nil, &plainError{fmt.Sprintf("kubeconfig: %v", err)}
	}
	return cfg, nil
}

func newLogger(level string, w io.Writer) (logr.Logger, error) {
	lvl, ok := map[string]uzap.Level{"debug": uzap.DebugLevel, "info": uzap.InfoLevel, "error": uzap.ErrorLevel}[strings.ToLower(level)]
	if !ok {
		return logr.Logger{}, fmt.Errorf("--log-level %q: want debug, info or error", level)
	}
	// Millisecond timestamps: a reconcile takes milliseconds.
	return zap.New(zap.WriteTo(w), zap.Level(lvl), func(o *zap.Options) { o.TimeEncoder = uzap.ISO8601TimeEncoder }), nil
}

// cacheOptions scope the cache to one namespace ("" for all), and the rendered kinds to the objects the
// operator manages (a namespace may hold many other ConfigMaps and Deployments). A cache scoped
// to namespaces asks the REST mapper whether a kind is namespaced at every read: the mapper
// remembers its answers.
func cacheOptions(o *ctrl.Options, namespace string) {
	o.MapperProvider = func(c *rest.Config, httpClient *http.Client) (meta.RESTMapper, error) {
		m, err := apiutil.NewDynamicRESTMapper(c, httpClient)
		if err != nil {
			return nil, err
		}
		return restmapping.Memoize(m), nil
	}
	managed := labels.SelectorFromSet(labels.Set{render.LabelManagedBy: render.ManagedByValue})
	byObject := map[client.Object]cache.ByObject{}
	for _, obj := range render.Kinds() {
		byObject[obj] = cache.ByObject{Label: managed}
	}
	// Nothing reads managed fields back: leaving them out of the cache saves a good part of
	// its memory (they are often the larger half of a workload object).
	o.Cache = cache.Options{ByObject: byObject, DefaultTransform: cache.TransformStripManagedFields()}
	if namespace != "" {
		o.Cache.DefaultNamespaces = map[string]cache.Config{namespace: {}}
	}
}

// restConfig sets the operator's client-side limits. It also turns off compression: the API
// server would gzip every watch event it sends to the operator (and its large lists), which in a
// profile of a start with 200 trenches was most of what serving the operator's watches cost it,
// to save bandwidth between two processes of the same cluster.
func (o runOptions) restConfig(cfg *rest.Config) {
	cfg.QPS, cfg.Burst = float32(o.qps), o.burst
	cfg.DisableCompression = true
}

func runInCluster(ctx context.Context, o runOptions, settings render.Settings) error {
	cfg, err := clusterConfig()
	if err != nil {
		return err
	}
	o.restConfig(cfg)
	opts := ctrl.Options{
		Scheme:                 scheme.New(),
		Metrics:                metricsOptions(o),
		HealthProbeBindAddress: o.probeAddr,
		PprofBindAddress:       o.pprofAddr,
		LeaderElection:         o.leaderElect,
		LeaderElectionID:       "132659e3.nordix.org",
		// In a pod the lease goes in the pod's namespace; elsewhere (a laptop, CI) in the
		// watched one, which controller-runtime cannot find by itself.
		LeaderElectionNamespace: leaseNamespace(o.namespace),
		// A replica that stops cleanly hands over at once instead of after the lease expires.
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 &o.lease.duration,
		RenewDeadline:                 &o.lease.renewDeadline,
		RetryPeriod:                   &o.lease.retryPeriod,
	}
	webhookOpts := webhook.Options{Port: o.webhookPort, CertDir: o.webhookCertDir}
	var svids *workloadapi.X509Source
	if o.webhooks && o.webhookCerts.source == "spiffe" {
		if svids, err = openSVIDs(ctx, o.webhookCerts.socket); err != nil {
			return err
		}
		defer svids.Close()
		webhookOpts.TLSOpts = []func(*tls.Config){spiffecert.TLSOption(svids)}
	}
	opts.WebhookServer = webhook.NewServer(webhookOpts)
	cacheOptions(&opts, o.namespace)
	mgr, err := ctrl.NewManager(cfg, opts)
	if err != nil {
		return err
	}
	if svids != nil {
		if err := addCABundleKeeper(mgr, svids, splitList(o.webhookCerts.configurations)); err != nil {
			return err
		}
	}
	ready := healthz.Ping
	if o.webhooks {
		if err := webhooks.Setup(mgr, webhooks.Options{Mutating: o.mutating, Settings: settings}); err != nil {
			return err
		}
		ready = mgr.GetWebhookServer().StartedChecker()
	}
	sink, err := newSink(mgr, o)
	if err != nil {
		return err
	}
	if err := controllers.Setup(mgr, sink, controllers.Options{Settings: settings, Namespace: o.namespace, Workers: o.workers}); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", ready); err != nil {
		return err
	}
	ctrl.Log.Info("starting", "namespace", o.namespace, "sink", o.sink, "webhooks", o.webhooks, "mutatingWebhook", o.mutating, "gitURL", gitsink.RedactURL(o.git.url))
	return mgr.Start(ctx)
}

// openSVIDs connects to the SPIFFE Workload API for the webhook server's certificate.
func openSVIDs(ctx context.Context, socket string) (*workloadapi.X509Source, error) {
	addr := spiffecert.Address(socket)
	if addr == "" {
		return nil, &plainError{"--webhook-cert-source=spiffe: no Workload API address: set --spiffe-endpoint-socket or " + spiffecert.EndpointSocketEnv}
	}
	ctrl.Log.Info("waiting for an X509-SVID from the SPIFFE Workload API", "socket", addr)
	return spiffecert.Open(ctx, addr)
}

// addCABundleKeeper keeps the caBundle of the named webhook configurations equal to the SVIDs'
// trust bundle. They are cluster-scoped: it reads them from the API server, not from the
// namespaced cache.
func addCABundleKeeper(mgr ctrl.Manager, svids *workloadapi.X509Source, names []string) error {
	direct, err := client.New(mgr.GetConfig(), client.Options{Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper()})
	if err != nil {
		return err
	}
	return mgr.Add(&spiffecert.CABundleKeeper{Client: direct, Source: svids, Names: names, Log: ctrl.Log.WithName("spiffe")})
}

// splitList reads a comma-separated flag value, without empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
