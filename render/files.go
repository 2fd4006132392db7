package render

import (
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// Clean returns obj as a map without the fields a render never sets (status, creation
// timestamp), ready to be written as a manifest.
func Clean(obj client.Object) (map[string]any, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("convert %s %s: %w", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName(), err)
	}
	delete(m, "status")
	if meta, ok := m["metadata"].(map[string]any); ok {
		delete(meta, "creationTimestamp")
	}
	// Pod templates carry a creation timestamp too.
	if spec, ok := m["spec"].(map[string]any); ok {
		if tmpl, ok := spec["template"].(map[string]any); ok {
			if meta, ok := tmpl["metadata"].(map[string]any); ok {
				delete(meta, "creationTimestamp")
			}
		}
		if claims, ok := spec["volumeClaimTemplates"].([]any); ok {
			for _, c := range claims {
				if cm, ok := c.(map[string]any); ok {
					delete(cm, "status")
					if meta, ok := cm["metadata"].(map[string]any); ok {
						delete(meta, "creationTimestamp")
					}
				}
			}
		}
	}
	return m, nil
}

// MarshalYAML writes obj as YAML with sorted keys.
func MarshalYAML(obj client.Object) ([]byte, error) {
	m, err := Clean(obj)
	if err != nil {
		return nil, err
	}
	return yaml.Marshal(m)
}

// MarshalJSON writes obj as indented JSON with sorted keys.
func MarshalJSON(obj client.Object) ([]byte, error) {
	m, err := Clean(obj)
	if err != nil {
		return nil, err
	}
	return json.MarshalIndent(m, "", "  ")
}

// Dir is the directory of a trench in the file layout: <namespace>/<trench>.
func Dir(namespace, trench string) string { return path.Join(namespace, trench) }

// FileName is the file of an object inside its trench directory: <kind>-<name>.yaml.
func FileName(obj client.Object) string {
	return strings.ToLower(obj.GetObjectKind().GroupVersionKind().Kind) + "-" + obj.GetName() + ".yaml"
}

// kustomization is a minimal kustomize file listing resources.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Resources  []string `json:"resources"`
}

// KustomizationFile lists resources (sorted) as a kustomization.yaml.
func KustomizationFile(resources []string) []byte {
	sorted := append([]string{}, resources...)
	sort.Strings(sorted)
	data, err := yaml.Marshal(kustomization{APIVersion: "kustomize.config.k8s.io/v1beta1", Kind: "Kustomization", Resources: sorted})
	if err != nil {
		panic(err) // a constant shape of strings always marshals
	}
	return data
}

// KustomizationResources reads the resources a kustomization.yaml lists, as KustomizationFile
// writes it; ok is false when data is no kustomization.
func KustomizationResources(data []byte) (resources []string, ok bool) {
	var k kustomization
	if yaml.Unmarshal(data, &k) != nil || k.Kind != "Kustomization" {
		return nil, false
	}
	return k.Resources, true
}

// TrenchFiles returns the files of one trench, keyed by their path relative to the root:
// one file per object and a kustomization.yaml listing them.
func TrenchFiles(res *Result) (map[string][]byte, error) {
	dir := Dir(res.Namespace, res.Trench)
	files := map[string][]byte{}
	var names []string
	for _, it := range res.Items {
		data, err := MarshalYAML(it.Object)
		if err != nil {
			return nil, err
		}
		name := FileName(it.Object)
		files[path.Join(dir, name)] = data
		names = append(names, name)
	}
	files[path.Join(dir, "kustomization.yaml")] = KustomizationFile(names)
	return files, nil
}

// Files returns the whole layout of several trenches: each trench's files and a root
// kustomization.yaml listing the trench directories.
func Files(results []*Result) (map[string][]byte, error) {
	files := map[string][]byte{}
	var dirs []string
	for _, res := range results {
		tf, err := TrenchFiles(res)
		if err != nil {
			return nil, err
		}
		for p, d := range tf {
			files[p] = d
		}
		dirs = append(dirs, Dir(res.Namespace, res.Trench))
	}
	files["kustomization.yaml"] = KustomizationFile(dirs)
	return files, nil
}
