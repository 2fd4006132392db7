//go:build !nolocal

package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/meridio-operator/meridio-operator/controllers"
	"github.com/meridio-operator/meridio-operator/internal/demo"
	"github.com/meridio-operator/meridio-operator/internal/localapi"
	"github.com/meridio-operator/meridio-operator/render"
)

// localGitPath is the directory of the local repository the operator owns in `run --local`.
const localGitPath = "clusters/local"

// localLogFile is where `run --local` writes the controllers' log (the report goes to stdout).
func localLogFile() string { return filepath.Join(os.TempDir(), "meridio-operator-run.log") }

// runLocal runs the whole loop on this machine: an embedded API server, and in git mode a
// bare repository in a temporary directory with a stand-in for Flux applying what the operator
// commits. It creates the resources of o.apply, waits until every resource reports its current
// generation and the rendered objects are in place, and prints a report.
func runLocal(ctx context.Context, o runOptions, settings render.Settings, stdout io.Writer) error {
	tmp, err := os.MkdirTemp("", "meridio-run-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	gitMode := o.sink == "git"
	bare, err := localRepository(&o, tmp)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "starting an embedded kube-apiserver and etcd (from bin/)...\n")
	env, err := localapi.Start(localapi.Options{
		NoMutatingWebhook: !o.mutating,
		Settings:          &settings,
		ManagerOptions:    func(mo *ctrl.Options) { cacheOptions(mo, o.namespace) },
		ManagerConfig:     o.restConfig,
		Setup: func(mgr ctrl.Manager) error {
			sink, err := newSink(mgr, o)
			if err != nil {
				return err
			}
			return controllers.Setup(mgr, sink, controllers.Options{Settings: settings, Namespace: o.namespace, Workers: o.workers})
		},
	})
	if err != nil {
		return err
	}
	defer func() { _ = env.Stop() }()
	kubeconfig := o.kubeconfigOut
	if kubeconfig == "" {
		kubeconfig = filepath.Join(tmp, "kubeconfig")
	}
	if err := os.WriteFile(kubeconfig, env.KubeConfig, 0o600); err != nil {
		return err
	}
	mode := "cluster mode: the operator applies the workloads itself"
	if gitMode {
		mode = fmt.Sprintf("git mode: the operator commits to %s (branch %s, path %s)", o.git.url, o.git.branch, o.git.path)
	}
	fmt.Fprintf(stdout, "API server at %s; operator watching namespace %q in %s\n", env.Config.Host, o.namespace, mode)
	fmt.Fprintf(stdout, "controller logs: %s\n", logDestination(o))

	var applier *demo.Applier
	if bare != "" {
		applier = &demo.Applier{Repo: bare, Branch: o.git.branch, Path: o.git.path, Client: env.Client}
		go applier.Run(ctx)
		fmt.Fprintf(stdout, "Flux stand-in (fluxcd/pkg/kustomize builds %s, fluxcd/pkg/ssa applies and prunes) follows %s\n", o.git.path, o.git.branch)
	}
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: o.namespace}}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	if o.apply != "" {
		if err := applyAndReport(ctx, stdout, env, o, bare, applier); err != nil {
			return err
		}
	}
	if !o.keepRunning {
		return nil
	}
	printInteractive(stdout, o, kubeconfig, bare, tmp)
	if applier != nil {
		go followCommits(ctx, stdout, applier)
	}
	<-ctx.Done()
	fmt.Fprintln(stdout, "stopping the operator, the Flux stand-in and the API server; removing", tmp)
	return nil
}

// localRepository makes, in git mode without --git-url, a bare repository under tmp for the
// operator to commit to (and sets the git options to it); it returns its path ("" otherwise).
func localRepository(o *runOptions, tmp string) (string, error) {
	if o.sink != "git" || o.git.url != "" {
		return "", nil
	}
	bare := filepath.Join(tmp, "fleet.git")
	if err := initBare(bare, o.git.branch); err != nil {
		return "", err
	}
	o.git.url = "file://" + bare
	o.git.cloneDir = filepath.Join(tmp, "clone")
	if o.git.path == "" {
		o.git.path = localGitPath
	}
	return bare, nil
}

// applyAndReport creates the resources of --apply, waits until they converge, and prints the
// report.
func applyAndReport(ctx context.Context, stdout io.Writer, env *localapi.Env, o runOptions, bare string, applier *demo.Applier) error {
	if err := applyDir(ctx, env, o.apply, o.namespace, stdout); err != nil {
		return err
	}
	start := time.Now()
	if err := waitSettled(ctx, env, o.namespace, bare, o.git.branch, applier); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "converged %s after the resources were created\n\n", time.Since(start).Round(time.Millisecond))
	return report(ctx, stdout, env, o, bare, applier)
}

func logDestination(o runOptions) string {
	if o.logLevel == "debug" {
		return "stderr"
	}
	return localLogFile()
}

// initBare makes an empty bare repository whose HEAD is branch.
func initBare(dir, branch string) error {
	repo, err := git.PlainInit(dir, true)
	if err != nil {
		return err
	}
	return repo.Storer.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, plumbing.NewBranchReferenceName(branch)))
}

// applyDir creates the resources of every *.yaml file of dir (not its subdirectories).
func applyDir(ctx context.Context, env *localapi.Env, dir, namespace string, stdout io.Writer) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return err
	}
	sort.Strings(files)
	for _, f := range files {
		if err := localapi.ApplyFile(ctx, env.Client, f, namespace); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created the resources of %s\n", f)
	}
	return nil
}

// waitSettled waits until every resource reports its current generation, the rendered objects
// are in place and, in git mode, the last commit is applied and named by every trench.
func waitSettled(ctx context.Context, env *localapi.Env, namespace, bare, branch string, applier *demo.Applier) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	waiting := ""
	for {
		head := ""
		if bare != "" {
			var err error
			if head, err = demo.Head(bare, branch); err != nil {
				return err
			}
		}
		done, what, err := demo.Settled(ctx, env.Client, namespace, head)
		if err != nil {
			return err
		}
		switch {
		case bare != "" && head == "":
			done, what = false, "no commit yet"
		case applier != nil && applier.Last().Commit != head:
			done, what = false, "the Flux stand-in has not applied the last commit yet"
		}
		if done {
			return nil
		}
		waiting = what
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out waiting for the resources to converge: %s", waiting)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// report prints the commits, the committed tree, what the Flux stand-in applied, and each
// trench with its resources and live objects.
func report(ctx context.Context, w io.Writer, env *localapi.Env, o runOptions, bare string, applier *demo.Applier) error {
	if bare != "" {
		section(w, "Commits (git log --stat)")
		if err := demo.PrintCommits(w, bare, o.git.branch); err != nil {
			return err
		}
		section(w, "The committed tree ("+o.git.branch+")")
		if err := demo.PrintTree(w, bare, o.git.branch, ""); err != nil {
			return err
		}
		last := applier.Last()
		section(w, "Applied by the Flux stand-in")
		fmt.Fprintf(w, "  %s@sha1:%s: %d objects built from %s, %d changed, %d pruned\n", o.git.branch, last.Commit, last.Objects, o.git.path, last.Changed, last.Pruned)
	}
	section(w, "Trenches")
	if err := demo.PrintTrenches(ctx, w, env.Client, o.namespace); err != nil {
		return err
	}
	fmt.Fprintln(w, "No kube-controller-manager runs here: workloads get no pods, so they and their trenches stay")
	fmt.Fprintln(w, "Ready=False (Progressing) with kstatus's reason; every object is created and of the current render.")
	section(w, "Try next")
	fmt.Fprintln(w, "  make run RUN_ARGS=--keep-running    keep it all running and change resources with kubectl")
	if o.sink == "git" {
		fmt.Fprintln(w, "  make run MODE=cluster               the same examples in cluster mode")
	} else {
		fmt.Fprintln(w, "  make run                            the same examples in git mode, with a Flux stand-in")
	}
	fmt.Fprintln(w, "  bin/meridio-operator render -f examples/ --output-dir out    the same render, offline")
	return nil
}

func section(w io.Writer, title string) {
	fmt.Fprintf(w, "\n== %s %s\n\n", title, strings.Repeat("=", max(0, 90-len(title))))
}

func printInteractive(w io.Writer, o runOptions, kubeconfig, bare, tmp string) {
	section(w, "Running")
	fmt.Fprintf(w, "  export KUBECONFIG=%s\n", kubeconfig)
	fmt.Fprintf(w, "  kubectl -n %s get trenches,attractors,flows -o wide\n", o.namespace)
	fmt.Fprintf(w, "  kubectl -n %s patch flow flow-1 --type merge -p '{\"spec\":{\"destination-ports\":[\"8080\"]}}'\n", o.namespace)
	if bare != "" {
		fmt.Fprintf(w, "  git --git-dir %s log --stat -3       the repository the operator commits to\n", bare)
		fmt.Fprintln(w, "New commits and what the Flux stand-in applies are printed here as they happen.")
	}
	fmt.Fprintf(w, "Ctrl-C stops the operator, the API server and etcd, and removes %s.\n", tmp)
}

// followCommits prints each commit the Flux stand-in applies.
func followCommits(ctx context.Context, w io.Writer, applier *demo.Applier) {
	last := applier.Last().Commit
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
		a := applier.Last()
		if a.Commit == last || a.Commit == "" {
			continue
		}
		last = a.Commit
		if a.Err != nil {
			fmt.Fprintf(w, "Flux stand-in: %s failed: %v\n", short(a.Commit), a.Err)
			continue
		}
		fmt.Fprintf(w, "Flux stand-in: applied %s %q (%d objects, %d changed, %d pruned)\n", short(a.Commit), a.Subject, a.Objects, a.Changed, a.Pruned)
	}
}

func short(h string) string { return h[:min(12, len(h))] }
