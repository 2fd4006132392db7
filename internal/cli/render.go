package cli

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/meridio-operator/meridio-operator/internal/offline"
	"github.com/meridio-operator/meridio-operator/render"
)

// stringList is a repeatable string flag.
type stringList []string

// String prints the list, for flag's help.
func (s *stringList) String() string { return fmt.Sprint(*s) }

// Set appends one occurrence of the flag.
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func renderCommand(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("render", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var files stringList
	fs.Var(&files, "f", "file or directory of Meridio resources, or - for standard input (repeatable)")
	namespace := fs.String("n", offline.DefaultNamespace, "namespace of resources that name none")
	output := fs.String("o", "yaml", "output format: yaml or json")
	outputDir := fs.String("output-dir", "", "write one file per object in the <namespace>/<trench>/ layout git mode commits, instead of printing")
	templates := fs.String("resource-templates", os.Getenv("RESOURCE_TEMPLATES_DIR"), "directory of user resource-requirement templates (one file per container; RESOURCE_TEMPLATES_DIR)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: meridio-operator render -f FILE|DIR|- ... [-n NAMESPACE] [-o yaml|json] [--output-dir DIR]")
		fmt.Fprintln(stderr, "Renders the workloads of every trench in the given Meridio resources. Settings come from the")
		fmt.Fprintln(stderr, "operator's environment variables (RESOURCE_NAME_PREFIX, IMAGE_REGISTRY, LOG_LEVEL, ...).")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if msg := renderArgsError(fs, len(files), *output, *namespace, *outputDir); msg != "" {
		fmt.Fprintln(stderr, "render: "+msg)
		if len(args) == 0 {
			fs.Usage()
		} else {
			fmt.Fprintln(stderr, "Run 'meridio-operator render -h' for the flags.")
		}
		return 2
	}
	set, err := render.SettingsFromEnv(os.LookupEnv, *templates)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	results, ok := renderInputs(files, stdin, *namespace, set, nil, stderr)
	if !ok {
		return 1
	}
	if len(results) == 0 {
		fmt.Fprintln(stderr, "render: no Meridio resource in the input: nothing to render")
	}
	if *outputDir != "" {
		if err := writeTree(*outputDir, results); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		return 0
	}
	out, err := printable(results, *output)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	_, _ = stdout.Write(out)
	return 0
}

// renderArgsError says what is wrong with the arguments of render ("" when nothing is).
func renderArgsError(fs *flag.FlagSet, files int, output, namespace, outputDir string) string {
	outputSet := false
	fs.Visit(func(f *flag.Flag) { outputSet = outputSet || f.Name == "o" })
	switch {
	case fs.NArg() > 0:
		return fmt.Sprintf("unexpected argument %q: give files and directories with -f", fs.Arg(0))
	case files == 0:
		return "-f is required: a file or directory of Meridio resources, or - for standard input"
	case output != "yaml" && output != "json":
		return fmt.Sprintf("-o %s: want yaml or json", output)
	case outputSet && outputDir != "" && output != "yaml":
		return fmt.Sprintf("-o %s cannot be used with --output-dir: the layout git mode commits is YAML files", output)
	}
	if errs := validation.IsDNS1123Label(namespace); len(errs) > 0 {
		return fmt.Sprintf("-n %q is not a namespace name: %s", namespace, strings.Join(errs, "; "))
	}
	return ""
}

// renderInputs reads the Meridio resources of files (- for stdin) and renders every trench, as
// the operator would; edit, when set, changes the resources before they are rendered. It prints
// the problems to stderr, and false when the operator would refuse the input.
func renderInputs(files []string, stdin io.Reader, namespace string, set render.Settings, edit func([]offline.Resource), stderr io.Writer) ([]*render.Result, bool) {
	resources, notes, errs := offline.ReadPathsNoting(files, stdin)
	for _, n := range notes {
		fmt.Fprintln(stderr, n)
	}
	if edit != nil {
		edit(resources)
	}
	snaps, verrs := offline.SnapshotsAfter(resources, namespace, errs)
	errs = append(errs, verrs...)
	if errs = append(errs, offline.NameErrors(resources, set)...); len(errs) > 0 {
		for _, e := range errs {
			fmt.Fprintln(stderr, e)
		}
		return nil, false
	}
	for _, w := range offline.Warnings(resources, snaps) {
		fmt.Fprintln(stderr, "warning: "+w)
	}
	var results []*render.Result
	for _, s := range snaps {
		res, err := render.Render(s, set)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return nil, false
		}
		if p := res.Undeliverable(); p != nil {
			// The operator would deliver nothing of it: refused, as the webhooks refuse it.
			fmt.Fprintf(stderr, "%s %s/%s: %s\n", p.Owner.Kind, res.Namespace, p.Owner.Name, p.Message)
			return nil, false
		}
		for _, p := range res.Problems {
			fmt.Fprintf(stderr, "warning: %s %s/%s: %s\n", p.Owner.Kind, res.Namespace, p.Owner.Name, p.Message)
		}
		results = append(results, res)
	}
	return results, true
}

// printable returns every object as multi-document YAML, or as one JSON List.
func printable(results []*render.Result, format string) ([]byte, error) {
	var buf bytes.Buffer
	var items []json.RawMessage
	for _, res := range results {
		for _, it := range res.Items {
			if format == "json" {
				data, err := render.MarshalJSON(it.Object)
				if err != nil {
					return nil, err
				}
				items = append(items, data)
				continue
			}
			data, err := render.MarshalYAML(it.Object)
			if err != nil {
				return nil, err
			}
			buf.WriteString("---\n")
			buf.Write(data)
		}
	}
	if format == "json" {
		data, err := json.MarshalIndent(map[string]any{"apiVersion": "v1", "kind": "List", "items": items}, "", "  ")
		return append(data, '\n'), err
	}
	return buf.Bytes(), nil
}
