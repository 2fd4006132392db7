package deploy

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/blang/semver/v4"
	"github.com/operator-framework/api/pkg/lib/version"
	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/meridio-operator/meridio-operator/config"
)

// BundleDir is where the OLM bundle lives in the repository.
const BundleDir = "bundle"

// Version is the operator's version that the chart and the bundle carry by default.
const Version = "0.1.0"

// bundlePackage and bundleChannel name the bundle's package and channel in a catalog.
const (
	bundlePackage = "meridio-operator"
	bundleChannel = "candidate"
)

// minKubeVersion is the oldest Kubernetes the deployment runs on: the CRDs' CEL rules use the
// IP and CIDR libraries from 1.31 (README, Prerequisites).
const minKubeVersion = "1.31.0"

// Bundle generates the files of an OLM bundle (paths relative to BundleDir) from the cluster
// sink's build of config/: the ClusterServiceVersion, the CRDs, the metadata annotations and
// the bundle image's Dockerfile. OLM installs the Deployment, the RBAC and the webhooks from the
// CSV and serves the webhooks' certificates itself, so cert-manager's objects are left out; so
// are the admission policies, a kind OLM does not install (the webhooks refuse the same changes).
func Bundle(v semver.Version, image string) (map[string][]byte, error) {
	objs, err := Manifests(Options{Image: image})
	if err != nil {
		return nil, err
	}
	csv, crds, err := clusterServiceVersion(objs, v)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{
		"metadata/annotations.yaml": []byte(bundleAnnotations),
		"bundle.Dockerfile":         []byte(bundleDockerfile),
	}
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(csv)
	if err != nil {
		return nil, err
	}
	delete(obj, "status") // the cluster's to write, not the bundle's
	data, err := yaml.Marshal(obj)
	if err != nil {
		return nil, err
	}
	files["manifests/"+bundlePackage+".clusterserviceversion.yaml"] = data
	for _, crd := range crds {
		data, err := yaml.Marshal(crd.Object)
		if err != nil {
			return nil, err
		}
		files["manifests/"+crd.GetName()+".yaml"] = data
	}
	return files, nil
}

// clusterServiceVersion describes the operator's objects in a CSV, and returns the CRDs it owns.
func clusterServiceVersion(objs []*unstructured.Unstructured, v semver.Version) (*operatorsv1alpha1.ClusterServiceVersion, []*unstructured.Unstructured, error) {
	csv := &operatorsv1alpha1.ClusterServiceVersion{
		TypeMeta:   metav1.TypeMeta{APIVersion: operatorsv1alpha1.SchemeGroupVersion.String(), Kind: operatorsv1alpha1.ClusterServiceVersionKind},
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s.v%s", bundlePackage, v)},
		Spec: operatorsv1alpha1.ClusterServiceVersionSpec{
			DisplayName: "Meridio Operator",
			Description: "Renders and delivers the Meridio workloads (IPAM, NSP, load-balancer front-ends, NSE-VLAN, proxies) " +
				"of every Trench, straight to the cluster or as commits to a Git repository that Flux or Argo CD applies.",
			Version:        version.OperatorVersion{Version: v},
			Maturity:       "alpha",
			MinKubeVersion: minKubeVersion,
			Keywords:       []string{"meridio", "networking", "load-balancer", "gitops"},
			Provider:       operatorsv1alpha1.AppLink{Name: "meridio-operator"},
			Links:          []operatorsv1alpha1.AppLink{{Name: "Source", URL: "https://github.com/meridio-operator/meridio-operator"}},
			// The operator reconciles the namespace it runs in (WATCH_NAMESPACE is its own).
			InstallModes: []operatorsv1alpha1.InstallMode{
				{Type: operatorsv1alpha1.InstallModeTypeOwnNamespace, Supported: true},
				{Type: operatorsv1alpha1.InstallModeTypeSingleNamespace, Supported: false},
				{Type: operatorsv1alpha1.InstallModeTypeMultiNamespace, Supported: false},
				{Type: operatorsv1alpha1.InstallModeTypeAllNamespaces, Supported: false},
			},
		},
	}
	var crds []*unstructured.Unstructured
	roles := map[string][]rbacv1.PolicyRule{}
	var bindings []rbacv1.RoleBinding
	var webhooks []operatorsv1alpha1.WebhookDescription
	var deployment, image string
	for _, o := range objs {
		var err error
		switch o.GetKind() {
		case "CustomResourceDefinition":
			crds = append(crds, o)
			err = ownCRD(csv, o)
		case "Deployment":
			deployment, image, err = installDeployment(csv, o)
		case "Role":
			var r rbacv1.Role
			err = fromUnstructured(o, &r)
			roles[r.Name] = r.Rules
		case "RoleBinding":
			var b rbacv1.RoleBinding
			err = fromUnstructured(o, &b)
			bindings = append(bindings, b)
		case "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration":
			var w []operatorsv1alpha1.WebhookDescription
			w, err = describeWebhooks(o, objs)
			webhooks = append(webhooks, w...)
		case "ServiceAccount", "Service", "Namespace", "Issuer", "Certificate",
			"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding":
			// OLM makes the accounts of the CSV's permissions, the webhooks' Service and their
			// certificate; it installs no admission policy, and the namespace is the install's.
		default:
			// A kind config/ gains must be placed in the CSV (a ClusterRole: clusterPermissions)
			// or dropped here on purpose, not lost.
			err = errors.New("no place for this kind in the bundle")
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s %s: %w", o.GetKind(), o.GetName(), err)
		}
	}
	perms, err := permissions(roles, bindings)
	if err != nil {
		return nil, nil, err
	}
	for i := range webhooks {
		webhooks[i].DeploymentName = deployment
	}
	csv.Spec.InstallStrategy.StrategySpec.Permissions = perms
	csv.Spec.WebhookDefinitions = webhooks
	examples, err := almExamples()
	if err != nil {
		return nil, nil, err
	}
	csv.Annotations = map[string]string{
		"alm-examples":   examples,
		"capabilities":   "Basic Install",
		"categories":     "Networking",
		"containerImage": image,
		"description":    "Meridio's workloads per Trench, delivered to the cluster or to Git.",
		"repository":     "https://github.com/meridio-operator/meridio-operator",
	}
	return csv, crds, nil
}

// ownCRD lists a CRD as owned, at its storage version.
func ownCRD(csv *operatorsv1alpha1.ClusterServiceVersion, o *unstructured.Unstructured) error {
	var crd apiextensionsv1.CustomResourceDefinition
	if err := fromUnstructured(o, &crd); err != nil {
		return err
	}
	for _, v := range crd.Spec.Versions {
		if !v.Storage {
			continue
		}
		desc := crd.Spec.Names.Kind
		if v.Schema != nil && v.Schema.OpenAPIV3Schema != nil {
			desc, _, _ = strings.Cut(v.Schema.OpenAPIV3Schema.Description, "\n")
		}
		csv.Spec.CustomResourceDefinitions.Owned = append(csv.Spec.CustomResourceDefinitions.Owned, operatorsv1alpha1.CRDDescription{
			Name: crd.Name, Version: v.Name, Kind: crd.Spec.Names.Kind, DisplayName: crd.Spec.Names.Kind, Description: desc,
		})
	}
	return nil
}

// installDeployment puts the operator's Deployment into the CSV's install strategy, without the
// cert-manager volume: OLM mounts the webhook certificate it issues at the same path. It returns
// the Deployment's name and the operator's image.
func installDeployment(csv *operatorsv1alpha1.ClusterServiceVersion, o *unstructured.Unstructured) (name, image string, err error) {
	var d appsv1.Deployment
	if err := fromUnstructured(o, &d); err != nil {
		return "", "", err
	}
	pod := &d.Spec.Template.Spec
	pod.Volumes = slices.DeleteFunc(pod.Volumes, func(v corev1.Volume) bool { return v.Name == certVolume })
	for i := range pod.Containers {
		c := &pod.Containers[i]
		c.VolumeMounts = slices.DeleteFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == certVolume })
	}
	csv.Spec.InstallStrategy = operatorsv1alpha1.NamedInstallStrategy{
		StrategyName: operatorsv1alpha1.InstallStrategyNameDeployment,
		StrategySpec: operatorsv1alpha1.StrategyDetailsDeployment{
			DeploymentSpecs: []operatorsv1alpha1.StrategyDeploymentSpec{{Name: d.Name, Spec: d.Spec, Label: d.Labels}},
		},
	}
	if len(pod.Containers) == 0 {
		return "", "", errors.New("no containers")
	}
	return d.Name, pod.Containers[0].Image, nil
}

// certVolume is the manager's volume of the webhook certificate in config/manager.
const certVolume = "cert"

// permissions gives each service account the rules of the roles bound to it.
func permissions(roles map[string][]rbacv1.PolicyRule, bindings []rbacv1.RoleBinding) ([]operatorsv1alpha1.StrategyDeploymentPermissions, error) {
	bySA := map[string][]rbacv1.PolicyRule{}
	for _, b := range bindings {
		rules, ok := roles[b.RoleRef.Name]
		if b.RoleRef.Kind != "Role" || !ok {
			return nil, fmt.Errorf("RoleBinding %s: binds %s %s, which config/ does not define", b.Name, b.RoleRef.Kind, b.RoleRef.Name)
		}
		for _, s := range b.Subjects {
			if s.Kind != rbacv1.ServiceAccountKind {
				return nil, fmt.Errorf("RoleBinding %s: subject %s %s is not a service account", b.Name, s.Kind, s.Name)
			}
			bySA[s.Name] = append(bySA[s.Name], rules...)
		}
	}
	var out []operatorsv1alpha1.StrategyDeploymentPermissions
	for _, sa := range slices.Sorted(maps.Keys(bySA)) {
		out = append(out, operatorsv1alpha1.StrategyDeploymentPermissions{ServiceAccountName: sa, Rules: bySA[sa]})
	}
	return out, nil
}

// describeWebhooks turns the webhooks of a webhook configuration into the CSV's descriptions:
// OLM creates the configuration, its service and its certificate.
func describeWebhooks(o *unstructured.Unstructured, objs []*unstructured.Unstructured) ([]operatorsv1alpha1.WebhookDescription, error) {
	var out []operatorsv1alpha1.WebhookDescription
	add := func(name string, typ operatorsv1alpha1.WebhookAdmissionType, cfg admissionregistrationv1.WebhookClientConfig, d operatorsv1alpha1.WebhookDescription) error {
		if cfg.Service == nil {
			return fmt.Errorf("webhook %s: no service", name)
		}
		d.GenerateName, d.Type, d.WebhookPath = name, typ, cfg.Service.Path
		d.ContainerPort = 443
		if cfg.Service.Port != nil {
			d.ContainerPort = *cfg.Service.Port
		}
		target, err := targetPort(objs, cfg.Service.Name, d.ContainerPort)
		if err != nil {
			return fmt.Errorf("webhook %s: %w", name, err)
		}
		d.TargetPort = &target
		out = append(out, d)
		return nil
	}
	if o.GetKind() == "MutatingWebhookConfiguration" {
		var m admissionregistrationv1.MutatingWebhookConfiguration
		if err := fromUnstructured(o, &m); err != nil {
			return nil, err
		}
		for _, w := range m.Webhooks {
			d := operatorsv1alpha1.WebhookDescription{Rules: w.Rules, FailurePolicy: w.FailurePolicy, MatchPolicy: w.MatchPolicy, ObjectSelector: w.ObjectSelector,
				SideEffects: w.SideEffects, TimeoutSeconds: w.TimeoutSeconds, AdmissionReviewVersions: w.AdmissionReviewVersions, ReinvocationPolicy: w.ReinvocationPolicy}
			if err := add(w.Name, operatorsv1alpha1.MutatingAdmissionWebhook, w.ClientConfig, d); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	var v admissionregistrationv1.ValidatingWebhookConfiguration
	if err := fromUnstructured(o, &v); err != nil {
		return nil, err
	}
	for _, w := range v.Webhooks {
		d := operatorsv1alpha1.WebhookDescription{Rules: w.Rules, FailurePolicy: w.FailurePolicy, MatchPolicy: w.MatchPolicy, ObjectSelector: w.ObjectSelector,
			SideEffects: w.SideEffects, TimeoutSeconds: w.TimeoutSeconds, AdmissionReviewVersions: w.AdmissionReviewVersions}
		if err := add(w.Name, operatorsv1alpha1.ValidatingAdmissionWebhook, w.ClientConfig, d); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// targetPort is the container port behind port of the named Service of the build: OLM creates
// the webhooks' Service itself, from the CSV.
func targetPort(objs []*unstructured.Unstructured, name string, port int32) (intstr.IntOrString, error) {
	for _, o := range objs {
		if o.GetKind() != "Service" || o.GetName() != name {
			continue
		}
		var svc corev1.Service
		if err := fromUnstructured(o, &svc); err != nil {
			return intstr.IntOrString{}, err
		}
		for _, p := range svc.Spec.Ports {
			if p.Port == port {
				return p.TargetPort, nil
			}
		}
	}
	return intstr.IntOrString{}, fmt.Errorf("no Service %s with port %d in config/", name, port)
}

// almExamples is the CSV's alm-examples annotation: the resources of config/samples, as JSON.
func almExamples() (string, error) {
	var examples []any
	names, err := fs.Glob(config.Bases, "samples/meridio_*.yaml")
	if err != nil {
		return "", err
	}
	for _, name := range names {
		data, err := config.Bases.ReadFile(name)
		if err != nil {
			return "", err
		}
		var obj map[string]any
		if err := yaml.Unmarshal(data, &obj); err != nil {
			return "", fmt.Errorf("%s: %w", path.Base(name), err)
		}
		examples = append(examples, obj)
	}
	if len(examples) == 0 {
		return "", errors.New("no samples in config/samples")
	}
	out, err := json.MarshalIndent(examples, "", "  ")
	return string(out), err
}

// fromUnstructured converts an object of the build into its type.
func fromUnstructured(o *unstructured.Unstructured, into any) error {
	return runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, into)
}

// bundleAnnotations are the bundle's metadata/annotations.yaml, the labels of bundleDockerfile.
const bundleAnnotations = `annotations:
  operators.operatorframework.io.bundle.mediatype.v1: registry+v1
  operators.operatorframework.io.bundle.manifests.v1: manifests/
  operators.operatorframework.io.bundle.metadata.v1: metadata/
  operators.operatorframework.io.bundle.package.v1: ` + bundlePackage + `
  operators.operatorframework.io.bundle.channels.v1: ` + bundleChannel + `
  operators.operatorframework.io.bundle.channel.default.v1: ` + bundleChannel + `
`

// bundleDockerfile builds the bundle image from the bundle directory:
// buildah bud --storage-driver vfs -f bundle.Dockerfile -t IMG bundle
const bundleDockerfile = `FROM scratch
LABEL operators.operatorframework.io.bundle.mediatype.v1=registry+v1
LABEL operators.operatorframework.io.bundle.manifests.v1=manifests/
LABEL operators.operatorframework.io.bundle.metadata.v1=metadata/
LABEL operators.operatorframework.io.bundle.package.v1=` + bundlePackage + `
LABEL operators.operatorframework.io.bundle.channels.v1=` + bundleChannel + `
LABEL operators.operatorframework.io.bundle.channel.default.v1=` + bundleChannel + `
COPY manifests /manifests/
COPY metadata /metadata/
`
