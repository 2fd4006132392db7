package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meridio-operator/meridio-operator/internal/deploy"
	"github.com/meridio-operator/meridio-operator/internal/scheme"
)

// deployCommand installs the operator from the embedded config/ into the cluster of the
// current kubeconfig (what make deploy, undeploy, install, uninstall and print-manifests run).
func deployCommand(args []string, stdout, stderr io.Writer) int {
	var o deploy.Options
	fs := flag.NewFlagSet("deploy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.Namespace, "namespace", "meridio-operator-system", "namespace of the operator and of its Meridio resources")
	fs.StringVar(&o.Image, "image", "", "the operator's image (default: config/manager's, meridio-operator:latest)")
	mutating := fs.Bool("enable-mutating-webhook", true, "install the Gateway defaulting webhook (ENABLE_MUTATING_WEBHOOK)")
	fs.StringVar(&o.Sink, "sink", "cluster", "cluster (config/default) or git (config/git)")
	fs.StringVar(&o.GitURL, "git-url", "", "with --sink=git: the repository (default: config/git's placeholder)")
	fs.StringVar(&o.GitBranch, "git-branch", "", "with --sink=git: the branch Flux or Argo CD applies (default: main)")
	fs.StringVar(&o.GitPath, "git-path", "", "with --sink=git: the directory the operator owns (default: clusters/prod)")
	fs.StringVar(&o.Certificates, "certificates", "cert-manager", "where the webhook certificate comes from: cert-manager (config/certmanager) or spire (config/components/spire: the SPIFFE Workload API)")
	fs.BoolVar(&o.CRDsOnly, "crds-only", false, "only the CustomResourceDefinitions (make install, make uninstall)")
	printOnly := fs.Bool("print", false, "print the objects instead of applying them (make print-manifests)")
	remove := fs.Bool("delete", false, "delete the objects instead of applying them (make undeploy, make uninstall)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: meridio-operator deploy [--namespace NS] [--image IMG] [--enable-mutating-webhook=false] [--sink cluster|git] [--certificates cert-manager|spire] [--crds-only] [--print|--delete]")
		fmt.Fprintln(stderr, "Applies the operator's objects (config/default, or config/git) to the cluster of the current kubeconfig.")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if !noArguments(fs, stderr, "") {
		return 2
	}
	o.NoMutatingWebhook = !*mutating
	objs, err := deploy.Manifests(o)
	if err != nil {
		fmt.Fprintln(stderr, "deploy: "+err.Error())
		return 2
	}
	if *printOnly {
		out, err := deploy.Print(objs)
		if err != nil {
			fmt.Fprintln(stderr, "deploy: "+err.Error())
			return 1
		}
		_, _ = stdout.Write(out)
		return 0
	}
	cfg, err := clusterConfig()
	if err != nil {
		fmt.Fprintln(stderr, "deploy: "+err.Error())
		return 1
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme.New()})
	if err != nil {
		fmt.Fprintln(stderr, "deploy: "+err.Error())
		return 1
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	verb, do := "applied", deploy.Apply
	if *remove {
		verb, do = "deleted", deploy.Delete
	}
	done, err := do(ctx, c, objs)
	for _, d := range done {
		fmt.Fprintf(stdout, "%s %s\n", d, verb)
	}
	if err != nil {
		fmt.Fprintln(stderr, "deploy: "+err.Error())
		return 1
	}
	fmt.Fprintf(stdout, "%d of %d objects %s\n", len(done), len(objs), verb)
	return 0
}
