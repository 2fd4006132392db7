// Package deploy installs the operator into a cluster from the kustomize bases of config/, which
// the binary embeds: the objects of `make deploy`, `make install` and their undoing, with the
// reference operator's parameters (namespace, image, mutating webhook) and the sink.
package deploy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/meridio-operator/meridio-operator/config"
)

// FieldOwner is the field manager of the applies of deploy.
const FieldOwner = "meridio-operator-deploy"

// baseNamespace is the namespace the bases of config/ are written for.
const baseNamespace = "meridio-operator-system"

// baseImage is the operator's image in config/manager.
const baseImage = "meridio-operator:latest"

// Options are the parameters of a deployment.
type Options struct {
	// Namespace the operator runs in, and where its Meridio resources go (default
	// meridio-operator-system).
	Namespace string
	// Image of the operator (default meridio-operator:latest, as config/manager has it).
	Image string
	// NoMutatingWebhook leaves out the Gateway defaulting webhook (ENABLE_MUTATING_WEBHOOK=false).
	NoMutatingWebhook bool
	// Sink is cluster (config/default) or git (config/git).
	Sink string
	// GitURL, GitBranch and GitPath set the repository of git mode (defaults: config/git's).
	GitURL, GitBranch, GitPath string
	// Certificates is where the webhook serving certificate comes from: cert-manager (the
	// default) or spire (config/components/spire).
	Certificates string
	// CRDsOnly keeps only the CustomResourceDefinitions (make install).
	CRDsOnly bool
}

// Manifests builds the objects of a deployment: the base of the sink, in opts.Namespace, with
// the image and webhooks asked for, in the order they are applied (CRDs and the namespace
// first).
func Manifests(opts Options) ([]*unstructured.Unstructured, error) {
	if opts.Namespace == "" {
		opts.Namespace = baseNamespace
	}
	if errs := validation.IsDNS1123Label(opts.Namespace); len(errs) > 0 {
		return nil, fmt.Errorf("namespace %q: %s", opts.Namespace, strings.Join(errs, "; "))
	}
	base := map[string]string{"": "default", "cluster": "default", "git": "git"}[opts.Sink]
	if base == "" {
		return nil, fmt.Errorf("sink %q: want cluster or git", opts.Sink)
	}
	if opts.Sink != "git" && (opts.GitURL != "" || opts.GitBranch != "" || opts.GitPath != "") {
		return nil, errors.New("the git settings need sink git")
	}
	var components []string
	switch opts.Certificates {
	case "", "cert-manager":
	case "spire":
		components = append(components, "components/spire")
	default:
		return nil, fmt.Errorf("certificates %q: want cert-manager or spire", opts.Certificates)
	}
	built, err := build(base, components...)
	if err != nil {
		return nil, err
	}
	// The bases name their namespace in names, selectors, DNS names and annotations, which no
	// kustomize transformer reaches all of: the name is unique, so it is replaced as text.
	built = bytes.ReplaceAll(built, []byte(baseNamespace), []byte(opts.Namespace))
	var objs []*unstructured.Unstructured
	for _, doc := range bytes.Split(built, []byte("\n---\n")) {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(doc, &u.Object); err != nil {
			return nil, fmt.Errorf("read the build of config/%s: %w", base, err)
		}
		if len(u.Object) == 0 {
			continue
		}
		if opts.CRDsOnly && u.GetKind() != "CustomResourceDefinition" {
			continue
		}
		if opts.NoMutatingWebhook && u.GetKind() == "MutatingWebhookConfiguration" {
			continue
		}
		if clusterScoped[u.GetKind()] {
			u.SetNamespace("")
		}
		if u.GetKind() == "Deployment" {
			env := map[string]string{}
			if opts.NoMutatingWebhook {
				env["ENABLE_MUTATING_WEBHOOK"] = "false"
			}
			if opts.GitURL != "" {
				env["GIT_URL"] = opts.GitURL
			}
			if err := configure(u, opts, env); err != nil {
				return nil, err
			}
		}
		objs = append(objs, u)
	}
	slices.SortStableFunc(objs, func(a, b *unstructured.Unstructured) int { return rank(a) - rank(b) })
	return objs, nil
}

// clusterScoped are the cluster-scoped kinds of config/ that kustomize's namespace
// transformer does not know, and gives a namespace.
var clusterScoped = map[string]bool{"ValidatingAdmissionPolicy": true, "ValidatingAdmissionPolicyBinding": true, "ClusterSPIFFEID": true}

// build runs kustomize on a base of the embedded config/, with the components given (paths in
// config/) added to it.
func build(base string, components ...string) ([]byte, error) {
	mem := filesys.MakeFsInMemory()
	err := fs.WalkDir(config.Bases, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := config.Bases.ReadFile(p)
		if err != nil {
			return err
		}
		return mem.WriteFile(path.Join("/config", p), data)
	})
	if err != nil {
		return nil, err
	}
	dir := path.Join("/config", base)
	if len(components) > 0 {
		// An overlay of base with the components, where no file of config/ is.
		dir = "/overlay"
		k := map[string]any{"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": []string{"../config/" + base}}
		var comps []string
		for _, c := range components {
			comps = append(comps, "../config/"+c)
		}
		k["components"] = comps
		data, err := yaml.Marshal(k)
		if err != nil {
			return nil, err
		}
		if err := mem.WriteFile(path.Join(dir, "kustomization.yaml"), data); err != nil {
			return nil, err
		}
	}
	res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(mem, dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize config/%s: %w", strings.Join(append([]string{base}, components...), " + "), err)
	}
	return res.AsYaml()
}

// configure sets the image, the environment variables of env and the git branch and path of
// the manager.
func configure(d *unstructured.Unstructured, opts Options, env map[string]string) error {
	containers, _, err := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
	if err != nil || len(containers) == 0 {
		return fmt.Errorf("deployment %s: no containers", d.GetName())
	}
	c := containers[0].(map[string]any)
	if opts.Image != "" {
		c["image"] = opts.Image
	}
	vars, _ := c["env"].([]any)
	for _, name := range slices.Sorted(maps.Keys(env)) {
		i := slices.IndexFunc(vars, func(e any) bool { return e.(map[string]any)["name"] == name })
		if i < 0 {
			vars = append(vars, map[string]any{"name": name})
			i = len(vars) - 1
		}
		vars[i].(map[string]any)["value"] = env[name]
	}
	c["env"] = vars
	args, _ := c["args"].([]any)
	for i, a := range args {
		s, _ := a.(string)
		switch {
		case opts.GitBranch != "" && strings.HasPrefix(s, "--git-branch="):
			args[i] = "--git-branch=" + opts.GitBranch
		case opts.GitPath != "" && strings.HasPrefix(s, "--git-path="):
			args[i] = "--git-path=" + opts.GitPath
		}
	}
	return unstructured.SetNestedSlice(d.Object, containers, "spec", "template", "spec", "containers")
}

// rank orders objects for applying: definitions and the namespace before what uses them.
func rank(u *unstructured.Unstructured) int {
	switch u.GetKind() {
	case "CustomResourceDefinition":
		return 0
	case "Namespace":
		return 1
	case "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration", "ValidatingAdmissionPolicyBinding":
		return 3 // after the service and policies they name
	}
	return 2
}

// Apply server-side applies the objects, in order, and returns those it changed.
func Apply(ctx context.Context, c client.Client, objs []*unstructured.Unstructured) ([]string, error) {
	var changed []string
	for _, o := range objs {
		before := &unstructured.Unstructured{}
		before.SetGroupVersionKind(o.GroupVersionKind())
		rv := ""
		if err := c.Get(ctx, client.ObjectKeyFromObject(o), before); err == nil {
			rv = before.GetResourceVersion()
		} else if !apierrors.IsNotFound(err) && !apimeta.IsNoMatchError(err) {
			return changed, fmt.Errorf("read %s: %w", describe(o), err)
		}
		u := o.DeepCopy()
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.ForceOwnership, client.FieldOwner(FieldOwner)); err != nil {
			return changed, fmt.Errorf("apply %s: %w", describe(o), err)
		}
		if u.GetResourceVersion() != rv {
			changed = append(changed, describe(o))
		}
		if o.GetKind() == "CustomResourceDefinition" {
			// The kinds it defines are used by later objects: wait until they are served.
			if err := waitEstablished(ctx, c, o.GetName()); err != nil {
				return changed, err
			}
		}
	}
	return changed, nil
}

// Delete deletes the objects, in reverse order, and returns those it deleted; absent ones are
// skipped.
func Delete(ctx context.Context, c client.Client, objs []*unstructured.Unstructured) ([]string, error) {
	var deleted []string
	for _, o := range slices.Backward(objs) {
		err := c.Delete(ctx, o.DeepCopy(), client.PropagationPolicy("Background"))
		switch {
		case err == nil:
			deleted = append(deleted, describe(o))
		case apierrors.IsNotFound(err) || apimeta.IsNoMatchError(err):
		default:
			return deleted, fmt.Errorf("delete %s: %w", describe(o), err)
		}
	}
	return deleted, nil
}

// describe is "Kind namespace/name" or "Kind name".
func describe(o *unstructured.Unstructured) string {
	if o.GetNamespace() == "" {
		return o.GetKind() + " " + o.GetName()
	}
	return o.GetKind() + " " + o.GetNamespace() + "/" + o.GetName()
}

// Print writes the objects as multi-document YAML.
func Print(objs []*unstructured.Unstructured) ([]byte, error) {
	var buf bytes.Buffer
	for _, o := range objs {
		data, err := yaml.Marshal(o.Object)
		if err != nil {
			return nil, err
		}
		buf.WriteString("---\n")
		buf.Write(data)
	}
	return buf.Bytes(), nil
}

// waitEstablished waits until the API server serves the kinds of a CustomResourceDefinition:
// it is Established and a list of its kind works. (An applied change makes the API server
// start the kind's storage again; a deletion meanwhile would wait on its finalizer, which
// cannot list the instances, for as long as its backoff says.)
func waitEstablished(ctx context.Context, c client.Client, name string) error {
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		crd := &unstructured.Unstructured{}
		crd.SetAPIVersion("apiextensions.k8s.io/v1")
		crd.SetKind("CustomResourceDefinition")
		if err := c.Get(ctx, client.ObjectKey{Name: name}, crd); err != nil {
			return false, client.IgnoreNotFound(err)
		}
		established := false
		conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
		for _, cond := range conds {
			if m, ok := cond.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
				established = true
			}
		}
		if !established {
			return false, nil
		}
		group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
		versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
		for _, v := range versions {
			if m, ok := v.(map[string]any); ok && m["storage"] == true {
				list := &unstructured.UnstructuredList{}
				list.SetAPIVersion(group + "/" + m["name"].(string))
				list.SetKind(kind + "List")
				return c.List(ctx, list, client.Limit(1)) == nil, nil
			}
		}
		return true, nil
	})
}
