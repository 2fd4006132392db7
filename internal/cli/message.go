package cli

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"

	"github.com/meridio-operator/meridio-operator/gitsink"
	"github.com/meridio-operator/meridio-operator/internal/offline"
	"github.com/meridio-operator/meridio-operator/render"
)

// readMessageTemplate parses a --git-commit-template file; its errors name file:line:column.
func readMessageTemplate(file string) (*gitsink.MessageTemplate, error) {
	if file == "" {
		return nil, nil
	}
	text, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--git-commit-template: %w", err)
	}
	return gitsink.ParseMessageTemplate(file, string(text))
}

func templateMessageCommand(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("template-message", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var files, previous stringList
	fs.Var(&files, "f", "file or directory of the Meridio resources after the change, or - for standard input (repeatable)")
	fs.Var(&previous, "previous", "file or directory of the Meridio resources before the change (repeatable; none: the first commit)")
	tmpl := fs.String("template", "", "the --git-commit-template file to try (default: the operator's default message)")
	namespace := fs.String("n", offline.DefaultNamespace, "namespace of resources that name none")
	path := fs.String("git-path", "", "the operator's --git-path")
	branch := fs.String("git-branch", "main", "the branch pushed to (--git-push-branch when set, else --git-branch)")
	templates := fs.String("resource-templates", os.Getenv("RESOURCE_TEMPLATES_DIR"), "directory of user resource-requirement templates (RESOURCE_TEMPLATES_DIR)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: meridio-operator template-message -f FILE|DIR|- ... [--previous FILE|DIR ...] [--template FILE]")
		fmt.Fprintln(stderr, "Prints the commit message git mode writes for the change from the --previous resources to the")
		fmt.Fprintln(stderr, "-f resources, with the template, trailers included. Offline, a resource whose spec differs from")
		fmt.Fprintln(stderr, "its previous one counts as one generation newer.")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if !noArguments(fs, stderr, ": give files and directories with -f") {
		return 2
	}
	if len(files) == 0 {
		fmt.Fprintln(stderr, "template-message: -f is required")
		fs.Usage()
		return 2
	}
	t, err := readMessageTemplate(*tmpl)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	set, err := render.SettingsFromEnv(os.LookupEnv, *templates)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	var before []*render.Result
	var old map[resourceKey]versioned
	if len(previous) > 0 {
		var ok bool
		if before, ok = renderInputs(previous, stdin, *namespace, set, func(rs []offline.Resource) { old = generations(rs, nil, *namespace) }, stderr); !ok {
			return 1
		}
	}
	after, ok := renderInputs(files, stdin, *namespace, set, func(rs []offline.Resource) { _ = generations(rs, old, *namespace) }, stderr)
	if !ok {
		return 1
	}
	msg, err := gitsink.OfflineMessage(t, before, after, Version, *path, *branch)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprint(stdout, msg)
	return 0
}

// generations gives resources read from files the generations the API server would: 1, or
// one more than the previous resource of the same kind and name when its spec differs
// (resources that name no namespace are in namespace). It returns what the resources are now,
// for the next call: taken before rendering, which defaults them in place.
func generations(rs []offline.Resource, previous map[resourceKey]versioned, namespace string) map[resourceKey]versioned {
	out := map[resourceKey]versioned{}
	for _, r := range rs {
		ns := r.Object.GetNamespace()
		if ns == "" {
			ns = namespace
		}
		k := resourceKey{render.OwnerOf(r.Object).Kind, ns, r.Object.GetName()}
		v := versioned{generation: 1, spec: spec(r)}
		if o, ok := previous[k]; ok {
			v.generation = o.generation
			if !reflect.DeepEqual(o.spec, v.spec) {
				v.generation++
			}
		}
		r.Object.SetGeneration(v.generation)
		out[k] = v
	}
	return out
}

// resourceKey names a resource across two inputs.
type resourceKey struct{ kind, namespace, name string }

// versioned is a resource's generation and spec.
type versioned struct {
	generation int64
	spec       any
}

// spec is the spec of a resource, as JSON values.
func spec(r offline.Resource) any {
	data, err := json.Marshal(r.Object)
	if err != nil {
		return nil
	}
	var m map[string]any
	_ = json.Unmarshal(data, &m)
	return m["spec"]
}
