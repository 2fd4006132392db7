package deploy

import (
	"bytes"
	"cmp"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// ChartDir is where the Helm chart lives in the repository.
const ChartDir = "charts/meridio-operator"

// The placeholders of config/ that become values of the chart.
const (
	baseGitURL    = "https://github.com/example/fleet.git"
	baseGitBranch = "--git-branch=main"
	baseGitPath   = "--git-path=clusters/prod"
	// mutatingValue stands for the value of ENABLE_MUTATING_WEBHOOK while an object is
	// marshalled ("true" is no text to replace).
	mutatingValue = "meridio-chart-mutating-webhook"
)

// Chart generates the files of the Helm chart (paths relative to ChartDir) from the same
// builds of config/ as Manifests: the objects both sinks have are templates of their own, those
// of one sink are rendered only for it, and the namespace, image, mutating webhook and git
// settings are values. A chart rendered with given values is the deployment Manifests gives
// for the same settings (a test checks it).
func Chart(version string) (map[string][]byte, error) {
	cluster, err := Manifests(Options{Sink: "cluster"})
	if err != nil {
		return nil, err
	}
	git, err := Manifests(Options{Sink: "git"})
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{
		"Chart.yaml":  chartYAML(version),
		"values.yaml": []byte(valuesYAML),
	}
	bySink := map[string]map[string]*unstructured.Unstructured{"cluster": index(cluster), "git": index(git)}
	var order []string
	seen := map[string]bool{}
	for _, objs := range [][]*unstructured.Unstructured{cluster, git} {
		for _, o := range objs {
			if k := key(o); !seen[k] {
				seen[k] = true
				order = append(order, k)
			}
		}
	}
	for i, k := range order {
		c, g := bySink["cluster"][k], bySink["git"][k]
		if crd := cmp.Or(c, g); crd.GetKind() == "CustomResourceDefinition" {
			data, err := yaml.Marshal(crd.Object)
			if err != nil {
				return nil, err
			}
			files["crds/"+crd.GetName()+".yaml"] = data
			continue
		}
		var parts []string
		switch {
		case c != nil && g != nil && same(c, g):
			t, err := template(c, "")
			if err != nil {
				return nil, err
			}
			parts = append(parts, t)
		default:
			for _, sink := range []string{"cluster", "git"} {
				if o := bySink[sink][k]; o != nil {
					t, err := template(o, sink)
					if err != nil {
						return nil, err
					}
					parts = append(parts, t)
				}
			}
		}
		name := fmt.Sprintf("templates/%02d-%s.yaml", i, strings.ToLower(strings.ReplaceAll(k, "/", "-")))
		files[name] = []byte(strings.Join(parts, "---\n"))
	}
	return files, nil
}

// template is an object's YAML with its values templated, rendered only for sink ("" for both).
func template(o *unstructured.Unstructured, sink string) (string, error) {
	if o.GetKind() == "Deployment" {
		o = o.DeepCopy()
		if err := configure(o, Options{}, map[string]string{"ENABLE_MUTATING_WEBHOOK": mutatingValue}); err != nil {
			return "", err
		}
	}
	data, err := yaml.Marshal(o.Object)
	if err != nil {
		return "", err
	}
	s := string(data)
	s = strings.ReplaceAll(s, baseNamespace, "{{ .Release.Namespace }}")
	s = strings.ReplaceAll(s, "image: "+baseImage, "image: {{ .Values.image | quote }}")
	s = strings.ReplaceAll(s, "value: "+mutatingValue, "value: {{ .Values.mutatingWebhook | toString | quote }}")
	s = strings.ReplaceAll(s, "value: "+baseGitURL, "value: {{ .Values.git.url | quote }}")
	s = strings.ReplaceAll(s, baseGitBranch, "--git-branch={{ .Values.git.branch }}")
	s = strings.ReplaceAll(s, baseGitPath, "--git-path={{ .Values.git.path }}")
	var conds []string
	if sink != "" {
		conds = append(conds, fmt.Sprintf("(eq .Values.sink %q)", sink))
	}
	switch o.GetKind() {
	case "MutatingWebhookConfiguration":
		conds = append(conds, ".Values.mutatingWebhook")
	case "Namespace":
		conds = append(conds, ".Values.createNamespace")
	}
	if len(conds) == 0 {
		return s, nil
	}
	cond := conds[0]
	if len(conds) > 1 {
		cond = "and " + strings.Join(conds, " ")
	}
	return "{{- if " + cond + " }}\n" + s + "{{- end }}\n", nil
}

func index(objs []*unstructured.Unstructured) map[string]*unstructured.Unstructured {
	out := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		out[key(o)] = o
	}
	return out
}

func key(o *unstructured.Unstructured) string { return o.GetKind() + "/" + o.GetName() }

func same(a, b *unstructured.Unstructured) bool {
	x, _ := yaml.Marshal(a.Object)
	y, _ := yaml.Marshal(b.Object)
	return bytes.Equal(x, y)
}

func chartYAML(version string) []byte {
	return []byte(`apiVersion: v2
name: meridio-operator
description: The Meridio operator (generated from config/ by meridio-operator; do not edit, run make chart)
type: application
version: ` + version + `
appVersion: "` + version + `"
`)
}

// valuesYAML are the chart's values: the settings of Options.
const valuesYAML = `# The operator's image.
image: meridio-operator:latest
# Serve the Gateway defaulting webhook (ENABLE_MUTATING_WEBHOOK).
mutatingWebhook: true
# cluster: the operator applies the workloads; git: it commits them for Flux or Argo CD.
sink: cluster
# git mode: the repository, the branch Flux or Argo CD applies and the directory the operator
# owns. Credentials go in the Secret meridio-operator-git of the release namespace.
git:
  url: https://github.com/example/fleet.git
  branch: main
  path: clusters/prod
# Create the release namespace (helm install --create-namespace does it otherwise).
createNamespace: false
# The webhook serving certificate comes from cert-manager (its CRDs must be installed).
`
