// Package offline reads Meridio resources from YAML files and groups them into trench
// snapshots, defaulted and validated exactly as the API server and the admission webhooks would
// (including the checks across resources of the same trench), so that the render command gives
// the result the operator would.
package offline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/internal/crdschema"
	"github.com/meridio-operator/meridio-operator/render"
)

// DefaultNamespace is the namespace of resources that name none.
const DefaultNamespace = "default"

// Resource is one decoded resource and where it came from.
type Resource struct {
	// Source is "file" or "file#N" for the N-th document (from 1) of a multi-document file.
	Source string
	Object meridiov1.Validated
}

// defaulter is implemented by every Meridio kind.
type defaulter interface{ Default() }

var decoder = func() runtime.Decoder {
	s := runtime.NewScheme()
	if err := meridiov1.AddToScheme(s); err != nil {
		panic(err)
	}
	return serializer.NewCodecFactory(s, serializer.EnableStrict).UniversalDeserializer()
}()

// ReadPaths reads every document of the given files, of the *.yaml, *.yml and *.json files of
// the given directories (recursively, in name order), and of standard input for "-". A
// directory may hold other manifests as well (a kustomization.yaml, Flux or Argo CD objects,
// as examples/ does): documents of another API group found in a directory are skipped. A
// file named explicitly, and standard input, must hold Meridio resources only.
func ReadPaths(paths []string, stdin io.Reader) ([]Resource, []error) {
	res, _, errs := ReadPathsNoting(paths, stdin)
	return res, errs
}

// ReadPathsNoting is ReadPaths that also returns a line for each document it skipped.
func ReadPathsNoting(paths []string, stdin io.Reader) ([]Resource, []string, []error) {
	var out []Resource
	var notes []string
	var errs []error
	for _, p := range paths {
		if p == "-" {
			r, _, e := decode("<stdin>", stdin, false)
			out, errs = append(out, r...), append(errs, e...)
			continue
		}
		files, dir, hidden, err := expand(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, h := range hidden {
			notes = append(notes, "skipped "+h+string(filepath.Separator)+": a hidden directory")
		}
		for _, f := range files {
			fh, err := os.Open(f)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			r, n, e := decode(f, fh, dir)
			fh.Close()
			out, notes, errs = append(out, r...), append(notes, n...), append(errs, e...)
		}
	}
	return out, notes, errs
}

// expand lists the files of p, a file or a directory (dir true), and the hidden directories
// it left out.
func expand(p string) (files []string, dir bool, hidden []string, err error) {
	info, err := os.Stat(p)
	if err != nil {
		return nil, false, nil, err
	}
	if !info.IsDir() {
		return []string{p}, false, nil, nil
	}
	files, hidden, err = walk(p)
	return files, true, hidden, err
}

func walk(p string) ([]string, []string, error) {
	var files, hidden []string
	err := filepath.WalkDir(p, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != p && strings.HasPrefix(d.Name(), ".") {
			hidden = append(hidden, path)
			return filepath.SkipDir // .git, .github: not resources
		}
		switch strings.ToLower(filepath.Ext(path)) {
		case ".yaml", ".yml", ".json":
			if !d.IsDir() {
				files = append(files, path)
			}
		}
		return nil
	})
	sort.Strings(files)
	return files, hidden, err
}

// Decode reads the Meridio resources of a multi-document YAML stream; name is used in errors.
func Decode(name string, r io.Reader) ([]Resource, []error) {
	res, _, errs := decode(name, r, false)
	return res, errs
}

// decode reads the Meridio resources of a stream; with skipForeign, documents of another API
// group are skipped instead of reported.
func decode(name string, r io.Reader, skipForeign bool) ([]Resource, []string, []error) {
	var out []Resource
	var notes []string
	var errs []error
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, nil, []error{fmt.Errorf("%s: %w", name, err)}
	}
	docs := splitDocuments(data)
	multi := len(docs) > 1
	for i, d := range docs {
		doc := d.data
		src := fmt.Sprintf("%s#%d", name, i+1)
		if empty(doc) {
			continue // as kubectl does
		}
		if why := notAnObject(doc); skipForeign && why != "" {
			notes = append(notes, fmt.Sprintf("skipped %s: %s", src, why))
			continue
		}
		tm := typeMeta(doc)
		if skipForeign && foreign(tm) {
			notes = append(notes, fmt.Sprintf("skipped %s: %s %s is not a Meridio resource", src, tm.APIVersion, tm.Kind))
			continue
		}
		v, aerrs := admit(src, doc, tm)
		if len(aerrs) > 0 {
			for _, e := range aerrs {
				errs = append(errs, inFile(e, d.line))
			}
			continue
		}
		out = append(out, Resource{Source: src, Object: v})
	}
	if !multi && len(out) == 1 {
		out[0].Source = name
	}
	return out, notes, errs
}

// admit gives the API server's verdict on one document sent as a create: the schema of its
// CRD (unknown fields, defaults, types, formats, bounds, CEL rules) and the metadata rules of
// custom resources, then the typed decoding the webhooks do.
func admit(src string, doc []byte, tm metav1.TypeMeta) (meridiov1.Validated, []error) {
	data, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, []error{fmt.Errorf("%s: %w", src, err)}
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(data); err != nil {
		return nil, []error{fmt.Errorf("%s: %w", src, err)}
	}
	if gvk := u.GroupVersionKind(); gvk.GroupVersion() != meridiov1.GroupVersion || !slices.Contains(meridioKinds, gvk.Kind) {
		err := fmt.Errorf("%s: kind %q of apiVersion %q is not a Meridio resource (want %s of %s)",
			src, tm.Kind, tm.APIVersion, strings.Join(meridioKinds[:len(meridioKinds)-1], ", ")+" or "+meridioKinds[len(meridioKinds)-1], meridiov1.GroupVersion)
		if gvk.Group == meridiov1.GroupVersion.Group && u.GetName() != "" {
			// A misspelt kind (Trenh): if it was meant as the Trench of other resources, they
			// are not reported again for its absence.
			err = &TrenchRefused{Namespace: u.GetNamespace(), Name: u.GetName(), Err: err}
		}
		return nil, []error{err}
	}
	if ferrs := crdschema.Admit(context.Background(), u, nil); len(ferrs) > 0 {
		errs := fieldErrors(src, u.GetKind(), u.GetNamespace(), u.GetName(), ferrs)
		if u.GetKind() == "Trench" {
			for i, e := range errs {
				errs[i] = &TrenchRefused{Namespace: u.GetNamespace(), Name: u.GetName(), Err: e}
			}
		}
		return nil, errs
	}
	data, err = u.MarshalJSON()
	if err != nil {
		return nil, []error{fmt.Errorf("%s: %w", src, err)}
	}
	obj, gvk, err := decoder.Decode(data, nil, nil)
	if err != nil {
		return nil, []error{fmt.Errorf("%s: %w", src, err)}
	}
	v, ok := obj.(meridiov1.Validated)
	if !ok {
		return nil, []error{fmt.Errorf("%s: %s is not a Meridio resource", src, gvk.Kind)}
	}
	return v, nil
}

// fieldErrors names the source and the resource in each field error.
func fieldErrors(src, kind, namespace, name string, errs field.ErrorList) []error {
	out := make([]error, 0, len(errs))
	for _, e := range errs {
		out = append(out, fmt.Errorf("%s: %s: %s", src, describeKind(kind, namespace, name), e.Error()))
	}
	return out
}

// meridioKinds are the kinds a Meridio resource may have.
var meridioKinds = []string{"Trench", "Attractor", "Gateway", "Vip", "Conduit", "Stream", "Flow"}

// typeMeta reads the apiVersion and kind of a document (empty when it has none).
func typeMeta(doc []byte) metav1.TypeMeta {
	var tm metav1.TypeMeta
	_ = yaml.Unmarshal(doc, &tm) // a malformed document is reported by the decoder
	return tm
}

// document is one document of a stream and the line of the stream it starts on.
type document struct {
	data []byte
	line int
}

// splitDocuments splits a YAML stream at its "---" lines, as kubectl does (a separator may be
// followed by a comment; nothing between two separators is no document), keeping the line
// each document starts on.
func splitDocuments(data []byte) []document {
	var docs []document
	cur := document{line: 1}
	for n, line := range bytes.SplitAfter(data, []byte("\n")) {
		if bytes.HasPrefix(line, []byte("---")) {
			if rest := bytes.TrimSpace(line[3:]); len(rest) == 0 || rest[0] == '#' {
				if len(cur.data) > 0 {
					docs = append(docs, cur)
				}
				cur = document{line: n + 2}
				continue
			}
		}
		cur.data = append(cur.data, line...)
	}
	if len(cur.data) > 0 {
		docs = append(docs, cur)
	}
	return docs
}

// yamlLine matches the line numbers the YAML parser puts in its errors.
var yamlLine = regexp.MustCompile(`line (\d+)`)

// inFile rewrites the line numbers of a YAML error from the document's to the file's (the
// document starts on line start), on one line.
func inFile(err error, start int) error {
	msg := err.Error()
	if !strings.Contains(msg, "yaml: ") || start == 1 && !strings.Contains(msg, "\n") {
		return err
	}
	msg = yamlLine.ReplaceAllStringFunc(msg, func(m string) string {
		n, _ := strconv.Atoi(m[len("line "):])
		return "line " + strconv.Itoa(n+start-1)
	})
	msg = strings.Join(strings.Fields(strings.ReplaceAll(msg, "unmarshal errors:\n", "")), " ")
	return errors.New(msg)
}

// empty tells whether a document holds nothing: only comments, a separator, or null.
func empty(doc []byte) bool {
	t := string(bytes.TrimSpace(stripComments(doc)))
	return t == "" || t == "---" || t == "null" || t == "~"
}

// notAnObject says why a document found in a directory is not a Kubernetes object at all (a
// CI workflow, a Helm template, a list or a string); "" when it may be one. A document that
// names the Meridio API group is never put aside: its mistakes are reported.
func notAnObject(doc []byte) string {
	if bytes.Contains(doc, []byte(meridiov1.GroupVersion.Group)) {
		return ""
	}
	var v any
	if err := yaml.Unmarshal(doc, &v); err != nil {
		return "not YAML (a template?)"
	}
	m, ok := v.(map[string]any)
	switch {
	case !ok:
		return "not a Kubernetes object (not a mapping)"
	case m["apiVersion"] == nil && m["kind"] == nil:
		return "not a Kubernetes object (no apiVersion and kind)"
	}
	return ""
}

// foreign tells whether a document names an API group other than Meridio's.
func foreign(tm metav1.TypeMeta) bool {
	if tm.APIVersion == "" {
		return false // reported by the decoder
	}
	gv, err := schema.ParseGroupVersion(tm.APIVersion)
	return err == nil && gv.Group != meridiov1.GroupVersion.Group
}

func stripComments(doc []byte) []byte {
	var b bytes.Buffer
	for _, line := range bytes.Split(doc, []byte("\n")) {
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '#' {
			b.Write(line)
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

// TrenchRefused is the error of a Trench document the API server would refuse: the resources
// of its trench are not reported again for its absence (one mistake, one message).
type TrenchRefused struct {
	Namespace, Name string
	Err             error
}

func (e *TrenchRefused) Error() string { return e.Err.Error() }
func (e *TrenchRefused) Unwrap() error { return e.Err }

// Snapshots defaults the resources, groups them by trench and validates each one against the
// others of its trench, as the webhooks would at creation. Resources without a namespace get
// namespace. The snapshots are sorted by namespace and trench name; errors name the source,
// the resource and the field.
func Snapshots(resources []Resource, namespace string) ([]*meridiov1.Snapshot, []error) {
	return SnapshotsAfter(resources, namespace, nil)
}

// SnapshotsAfter is Snapshots for resources read with readErrs: a resource whose trench is
// missing because its Trench document was refused (TrenchRefused) is not reported for it.
func SnapshotsAfter(resources []Resource, namespace string, readErrs []error) ([]*meridiov1.Snapshot, []error) {
	refused := map[[2]string]bool{}
	for _, e := range readErrs {
		var tr *TrenchRefused
		if errors.As(e, &tr) {
			ns := tr.Namespace
			if ns == "" {
				ns = namespace
			}
			refused[[2]string{ns, tr.Name}] = true
		}
	}
	type key struct{ ns, trench string }
	byTrench := map[key]*meridiov1.Snapshot{}
	seen := map[string]string{}
	var errs []error
	get := func(k key) *meridiov1.Snapshot {
		if byTrench[k] == nil {
			byTrench[k] = &meridiov1.Snapshot{}
		}
		return byTrench[k]
	}
	for _, r := range resources {
		o := r.Object
		if o.GetNamespace() == "" {
			o.SetNamespace(namespace)
		}
		o.(defaulter).Default()
		id := describe(o)
		if prev, dup := seen[id]; dup {
			errs = append(errs, fmt.Errorf("%s: %s: also defined in %s", r.Source, describe(o), prev))
			continue
		}
		seen[id] = r.Source
		switch t := o.(type) {
		case *meridiov1.Trench:
			get(key{t.Namespace, t.Name}).Trench = t
		default:
			s := get(key{o.GetNamespace(), o.GetLabels()[meridiov1.TrenchLabel]})
			switch c := o.(type) {
			case *meridiov1.Attractor:
				s.Attractors = append(s.Attractors, *c)
			case *meridiov1.Gateway:
				s.Gateways = append(s.Gateways, *c)
			case *meridiov1.Vip:
				s.Vips = append(s.Vips, *c)
			case *meridiov1.Conduit:
				s.Conduits = append(s.Conduits, *c)
			case *meridiov1.Stream:
				s.Streams = append(s.Streams, *c)
			case *meridiov1.Flow:
				s.Flows = append(s.Flows, *c)
			}
		}
	}
	for _, r := range resources {
		o := r.Object
		s := byTrench[key{o.GetNamespace(), o.GetLabels()[meridiov1.TrenchLabel]}]
		if t, ok := o.(*meridiov1.Trench); ok {
			s = byTrench[key{t.Namespace, t.Name}]
		} else if (s == nil || s.Trench == nil) && refused[[2]string{o.GetNamespace(), o.GetLabels()[meridiov1.TrenchLabel]}] {
			continue // its Trench's own error says it all
		}
		for _, e := range meridiov1.ValidateCreate(o, s) {
			errs = append(errs, fmt.Errorf("%s: %s: %s", r.Source, describe(o), e.Error()))
		}
	}
	var out []*meridiov1.Snapshot
	for _, s := range byTrench {
		if s.Trench != nil {
			s.Sort()
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Trench, out[j].Trench
		return a.Namespace < b.Namespace || (a.Namespace == b.Namespace && a.Name < b.Name)
	})
	return out, errs
}

// Warnings returns what the webhooks would warn of each resource whose trench is in snaps, as
// lines "source: Kind namespace/name: message": references to resources the input does not
// have, and addresses of the other IP family than their trench's. The resources must have been
// through SnapshotsAfter, which defaults them and gives them a namespace.
func Warnings(resources []Resource, snaps []*meridiov1.Snapshot) []string {
	byTrench := map[[2]string]*meridiov1.Snapshot{}
	for _, s := range snaps {
		byTrench[[2]string{s.Trench.Namespace, s.Trench.Name}] = s
	}
	var out []string
	for _, r := range resources {
		o := r.Object
		s := byTrench[[2]string{o.GetNamespace(), o.GetLabels()[meridiov1.TrenchLabel]}]
		if s == nil {
			continue
		}
		for _, m := range meridiov1.Messages(o.Findings(s)) {
			out = append(out, fmt.Sprintf("%s: %s: %s", r.Source, describe(o), m))
		}
	}
	return out
}

func describe(o meridiov1.Object) string {
	return describeKind(render.OwnerOf(o).Kind, o.GetNamespace(), o.GetName())
}

// describeKind is "Kind namespace/name", or "Kind name" without a namespace.
func describeKind(kind, namespace, name string) string {
	if namespace == "" {
		return kind + " " + name
	}
	return fmt.Sprintf("%s %s/%s", kind, namespace, name)
}

// ValidateUpdate gives the verdict of the API server and the webhooks on an update of old to
// obj, both read by ReadPaths or Decode: the CRD's rules, then what may not change.
func ValidateUpdate(old, obj Resource) []error {
	var errs field.ErrorList
	u, uerr := toUnstructured(obj.Object)
	o, oerr := toUnstructured(old.Object)
	if err := errors.Join(uerr, oerr); err != nil {
		return []error{fmt.Errorf("%s: %w", obj.Source, err)}
	}
	errs = append(errs, crdschema.Admit(context.Background(), u, o)...)
	errs = append(errs, meridiov1.ValidateTrenchLabelUpdate(obj.Object, old.Object)...)
	errs = append(errs, obj.Object.ValidateUpdate(old.Object)...)
	o2 := obj.Object
	return fieldErrors(obj.Source, render.OwnerOf(o2).Kind, o2.GetNamespace(), o2.GetName(), errs)
}

func toUnstructured(o meridiov1.Object) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(meridiov1.GroupVersion.WithKind(render.OwnerOf(o).Kind))
	return u, nil
}

// NameErrors refuses, as the webhooks do at creation, every Trench, Attractor and Conduit whose
// rendered objects would get names or label values the API server refuses with the settings
// (the name prefix) of set. Run it after Snapshots, which gives the resources their namespace.
func NameErrors(resources []Resource, set render.Settings) []error {
	var errs []error
	for _, r := range resources {
		for _, e := range render.NameErrors(r.Object, set) {
			errs = append(errs, fmt.Errorf("%s: %s: %s", r.Source, describe(r.Object), e.Error()))
		}
	}
	return errs
}
