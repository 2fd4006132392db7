package deploy

import (
	"bytes"
	"fmt"
	"slices"
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

// variant is one combination of the settings that change which objects config/ builds.
type variant struct{ sink, certificates string }

// variants are the builds a chart covers, each a combination of the chart's values sink and
// certificates.
var variants = []variant{{"cluster", "cert-manager"}, {"git", "cert-manager"}, {"cluster", "spire"}, {"git", "spire"}}

// Chart generates the files of the Helm chart (paths relative to ChartDir) from the same
// builds of config/ as Manifests, one per variant: an object all variants build alike is a
// template of its own, one that differs is rendered only for the variants that build it so, and
// the namespace, image, mutating webhook and git settings are values. A chart rendered with given
// values is the deployment Manifests gives for the same settings (a test checks it).
func Chart(version string) (map[string][]byte, error) {
	files := map[string][]byte{
		"Chart.yaml":                 chartYAML(version),
		"values.yaml":                []byte(valuesYAML),
		"templates/00-settings.yaml": []byte(settingsCheck),
	}
	builds := make([]map[string]*unstructured.Unstructured, len(variants))
	var order []string
	seen := map[string]bool{}
	for i, v := range variants {
		objs, err := Manifests(Options{Sink: v.sink, Certificates: v.certificates})
		if err != nil {
			return nil, err
		}
		builds[i] = index(objs)
		for _, o := range objs {
			if k := key(o); !seen[k] {
				seen[k] = true
				order = append(order, k)
			}
		}
	}
	for i, k := range order {
		// The distinct forms of the object, each with the variants that build it so.
		var forms []*unstructured.Unstructured
		var in [][]variant
		for j, b := range builds {
			o := b[k]
			if o == nil {
				continue
			}
			f := slices.IndexFunc(forms, func(x *unstructured.Unstructured) bool { return same(x, o) })
			if f < 0 {
				forms, in = append(forms, o), append(in, nil)
				f = len(forms) - 1
			}
			in[f] = append(in[f], variants[j])
		}
		if forms[0].GetKind() == "CustomResourceDefinition" {
			data, err := yaml.Marshal(forms[0].Object)
			if err != nil {
				return nil, err
			}
			files["crds/"+forms[0].GetName()+".yaml"] = data
			continue
		}
		var parts []string
		for f, o := range forms {
			t, err := template(o, condition(in[f]))
			if err != nil {
				return nil, err
			}
			parts = append(parts, t)
		}
		name := fmt.Sprintf("templates/%02d-%s.yaml", i, strings.ToLower(strings.ReplaceAll(k, "/", "-")))
		files[name] = []byte(strings.Join(parts, "---\n"))
	}
	return files, nil
}

// condition is the template condition that holds for exactly the variants vs, as clauses to
// join with and (none: all variants).
func condition(vs []variant) []string {
	sinks, certs := map[string]bool{}, map[string]bool{}
	for _, v := range vs {
		sinks[v.sink], certs[v.certificates] = true, true
	}
	if len(vs) != len(sinks)*len(certs) {
		// Not every combination of its sinks and certificates: one clause per variant.
		var or []string
		for _, v := range vs {
			or = append(or, fmt.Sprintf("(and (eq .Values.sink %q) (eq .Values.certificates %q))", v.sink, v.certificates))
		}
		return []string{"(or " + strings.Join(or, " ") + ")"}
	}
	var and []string
	if len(sinks) == 1 {
		and = append(and, fmt.Sprintf("(eq .Values.sink %q)", vs[0].sink))
	}
	if len(certs) == 1 {
		and = append(and, fmt.Sprintf("(eq .Values.certificates %q)", vs[0].certificates))
	}
	return and
}

// template is an object's YAML with its values templated, rendered only when every clause of
// conds holds.
func template(o *unstructured.Unstructured, conds []string) (string, error) {
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
	// Go templates in config/ (the ClusterSPIFFEID's) are text of the object, not the chart's.
	s := strings.ReplaceAll(string(data), "{{", `{{ "{{" }}`)
	s = strings.ReplaceAll(s, baseNamespace, "{{ .Release.Namespace }}")
	s = strings.ReplaceAll(s, "image: "+baseImage, "image: {{ .Values.image | quote }}")
	s = strings.ReplaceAll(s, "value: "+mutatingValue, "value: {{ .Values.mutatingWebhook | toString | quote }}")
	s = strings.ReplaceAll(s, "value: "+baseGitURL, "value: {{ .Values.git.url | quote }}")
	s = strings.ReplaceAll(s, baseGitBranch, "--git-branch={{ .Values.git.branch }}")
	s = strings.ReplaceAll(s, baseGitPath, "--git-path={{ .Values.git.path }}")
	switch o.GetKind() {
	case "MutatingWebhookConfiguration":
		conds = append(conds, ".Values.mutatingWebhook")
	case "Namespace":
		conds = append(conds, ".Values.createNamespace")
	}
	switch len(conds) {
	case 0:
		return s, nil
	case 1:
		return "{{- if " + conds[0] + " }}\n" + s + "{{- end }}\n", nil
	default:
		return "{{- if and " + strings.Join(conds, " ") + " }}\n" + s + "{{- end }}\n", nil
	}
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

// settingsCheck refuses a sink or certificates value no variant builds: it would render no
// Deployment and no webhooks, silently.
const settingsCheck = `{{- if not (has .Values.sink (list "cluster" "git")) }}
{{- fail (printf "sink %q: want cluster or git" .Values.sink) }}
{{- end }}
{{- if not (has .Values.certificates (list "cert-manager" "spire")) }}
{{- fail (printf "certificates %q: want cert-manager or spire" .Values.certificates) }}
{{- end }}
`

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
# Where the webhook serving certificate comes from: cert-manager (its CRDs must be installed)
# or spire (the SPIFFE Workload API through the SPIFFE CSI driver, with spire-controller-manager).
certificates: cert-manager
`
