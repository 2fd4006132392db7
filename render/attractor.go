package render

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
)

const nsePort = 5003

// deployment is the shape the attractor's Deployments share.
func deployment(name, namespace string, replicas int32, maxUnavailable string, pod corev1.PodSpec) *appsv1.Deployment {
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{"app": name}},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Strategy: appsv1.DeploymentStrategy{
				Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{
					MaxSurge:       ptr.To(intstr.FromInt32(0)),
					MaxUnavailable: ptr.To(intstr.FromString(maxUnavailable)),
				},
			},
			ProgressDeadlineSeconds: ptr.To[int32](600),
			RevisionHistoryLimit:    ptr.To[int32](10),
			Template:                corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: podLabels(name)}, Spec: pod},
		},
	}
}

// attractorNames are the strings the attractor's workloads are wired with.
type attractorNames struct {
	vlanService string // external-vlan.A.T.NS
	extIf       string // the external interface in the front-end pods
}

func attractorStrings(a *meridiov1.Attractor, trench string) attractorNames {
	n := attractorNames{
		vlanService: fmt.Sprintf("external-vlan.%s.%s.%s", a.Name, trench, a.Namespace),
		extIf:       "ext",
	}
	if id := *a.Spec.Interface.NSMVlan.VlanID; id != 0 {
		n.extIf = fmt.Sprintf("ext-vlan.%d", id)
	}
	return n
}

func (r *renderer) nseVlan(a *meridiov1.Attractor, t *meridiov1.Trench, n attractorNames) *appsv1.Deployment {
	name := r.set.name("nse-vlan", a.Name)
	iface := a.Spec.Interface
	probe := func(k probeKind) *corev1.Probe { return healthProbe(k, true, ":"+itoa(nsePort), "") }
	c := corev1.Container{
		Name:  containerNSEVlan,
		Image: r.set.nsmImage("cmd-nse-remote-vlan"),
		Ports: []corev1.ContainerPort{{ContainerPort: nsePort, Protocol: corev1.ProtocolTCP}},
		Env: envs(
			fieldEnv("NSM_NAME", "metadata.name"),
			env("NSM_CONNECT_TO", r.set.NSMRegistryService),
			env("NSM_SERVICES", fmt.Sprintf("%s { vlan: %d; via: %s }", n.vlanService, *iface.NSMVlan.VlanID, iface.NSMVlan.BaseInterface)),
			env("NSM_CIDR_PREFIX", iface.IPv4Prefix+","+iface.IPv6Prefix),
			env("NSE_POINT2POINT", "False"),
			env("NSM_REGISTER_SERVICE", "True"),
			env("NSM_LISTEN_ON", "tcp://:"+itoa(nsePort)),
			env("NSM_MAX_TOKEN_LIFETIME", maxTokenLife),
			env("NSM_LOG_LEVEL", r.set.LogLevel),
		),
		VolumeMounts:    []corev1.VolumeMount{spireMount()},
		SecurityContext: nsmContainerSecurity(),
		StartupProbe:    probe(startupProbe),
		ReadinessProbe:  probe(readinessProbe),
		LivenessProbe:   probe(livenessProbe),
	}
	r.resources(&c, a)
	// No pod securityContext: the original's nse-vlan.yaml sets only the container's (SPEC §2.4.5).
	return deployment(name, a.Namespace, 1, "100%", corev1.PodSpec{
		AutomountServiceAccountToken: ptr.To(false),
		ImagePullSecrets:             r.set.pullSecrets(),
		Volumes:                      []corev1.Volume{spireVolume()},
		Containers:                   []corev1.Container{c},
	})
}

// nsmContainerSecurity is the container security of the NSM images, which run as user 10000.
func nsmContainerSecurity() *corev1.SecurityContext {
	sc := securityContext()
	sc.RunAsUser, sc.RunAsGroup = ptr.To[int64](10000), ptr.To[int64](10000)
	return sc
}

func (r *renderer) loadBalancer(a *meridiov1.Attractor, t *meridiov1.Trench, n attractorNames) *appsv1.Deployment {
	name := r.set.name("stateless-lb-frontend", a.Name)
	conduit := a.Spec.Composites[0]
	lb := corev1.Container{
		Name:  containerStatelessLB,
		Image: r.set.meridioImage("stateless-lb"),
		Env: envs(
			fieldEnv("NSM_NAME", "metadata.name"),
			env("NSM_SERVICE_NAME", fmt.Sprintf("%s.%s.%s", conduit, t.Name, a.Namespace)),
			env("NSM_CONDUIT_NAME", conduit),
			env("NSM_TRENCH_NAME", t.Name),
			env("NSM_NSP_SERVICE", r.nspAddress(t.Name)),
			env("NSM_MAX_TOKEN_LIFETIME", maxTokenLife),
			env("NSM_LOG_LEVEL", r.set.LogLevel),
		),
		VolumeMounts:    []corev1.VolumeMount{spireMount(), mount(nsmVolumeName, nsmSocketDir, false), mount("tmp-lb", "/tmp", false)},
		SecurityContext: securityContext("NET_ADMIN", "IPC_LOCK", "IPC_OWNER", "DAC_OVERRIDE", "NET_RAW", "SYS_PTRACE"),
	}
	unixProbes(&lb)
	nsc := corev1.Container{
		Name:  containerNSC,
		Image: r.set.nsmImage("cmd-nsc"),
		Env: envs(
			fieldEnv("NSM_NAME", "metadata.name"),
			env("NSM_NETWORK_SERVICES", fmt.Sprintf("kernel://%s/%s", n.vlanService, n.extIf)),
			env("NSM_DIAL_TIMEOUT", "30s"),
			env("NSM_REQUEST_TIMEOUT", "300s"),
			env("NSM_MAX_TOKEN_LIFETIME", maxTokenLife),
			env("NSM_LOG_LEVEL", r.set.LogLevel),
			env("NSM_LIVENESSCHECKENABLED", "false"),
			env("NSM_LOCALDNSSERVERADDRESS", "127.0.0.1:10053"),
		),
		VolumeMounts:    []corev1.VolumeMount{spireMount(), mount(nsmVolumeName, nsmSocketDir, true)},
		SecurityContext: nsmContainerSecurity(),
	}
	fe := corev1.Container{
		Name:  containerFrontend,
		Image: r.set.meridioImage("frontend"),
		Env: envs(
			env("NFE_NAMESPACE", a.Namespace),
			env("NFE_LOG_BIRD", "true"),
			env("NFE_ECMP", "true"),
			env("NFE_EXTERNAL_INTERFACE", n.extIf),
			env("NFE_NSP_SERVICE", r.nspAddress(t.Name)),
			env("NFE_CONFIG_MAP_NAME", r.set.name("meridio-configuration", t.Name)),
			env("NFE_TRENCH_NAME", t.Name),
			env("NFE_ATTRACTOR_NAME", a.Name),
			env("NFE_LOG_LEVEL", r.set.LogLevel),
		),
		VolumeMounts: []corev1.VolumeMount{
			spireMount(), mount("tmp-fe", "/tmp", false), mount("run", "/var/run/bird", false),
			mount("etc", "/etc/bird", false), mount("log", "/var/log", false),
		},
		SecurityContext: securityContext("NET_ADMIN", "NET_BIND_SERVICE", "DAC_OVERRIDE", "NET_RAW", "SYS_PTRACE"),
	}
	unixProbes(&fe)
	for _, c := range []*corev1.Container{&lb, &nsc, &fe} {
		r.resources(c, a)
	}
	return deployment(name, a.Namespace, deref(a.Spec.Replicas), "25%", corev1.PodSpec{
		ServiceAccountName: r.set.FEServiceAccount,
		ImagePullSecrets:   r.set.pullSecrets(),
		SecurityContext:    podSecurityContext(),
		Affinity: &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
				LabelSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
					{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{name}},
				}},
				TopologyKey: "kubernetes.io/hostname",
			}},
		}},
		Volumes: []corev1.Volume{
			spireVolume(), nsmVolume(), memoryVolume("tmp-lb"), memoryVolume("tmp-fe"),
			memoryVolume("run"), memoryVolume("etc"), memoryVolume("log"),
		},
		InitContainers: []corev1.Container{r.set.sysctlInit(sysctlScript(t.Spec.IPFamily, false))},
		Containers:     []corev1.Container{lb, nsc, fe},
	})
}

func (r *renderer) pdb(a *meridiov1.Attractor) *policyv1.PodDisruptionBudget {
	return &policyv1.PodDisruptionBudget{
		TypeMeta:   metav1.TypeMeta{APIVersion: "policy/v1", Kind: "PodDisruptionBudget"},
		ObjectMeta: metav1.ObjectMeta{Name: r.set.name("pdb", a.Name), Namespace: a.Namespace},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: ptr.To(intstr.FromString("75%")),
			Selector:     &metav1.LabelSelector{MatchLabels: map[string]string{"app": r.set.name("stateless-lb-frontend", a.Name)}},
		},
	}
}

// attractorObjects renders the VLAN NSE, the load-balancer front-ends and their disruption
// budget. An attractor that bypassed admission without a conduit or VLAN id is reported, not
// rendered (the reference operator panics on it).
func (r *renderer) attractorObjects(a *meridiov1.Attractor, t *meridiov1.Trench) {
	switch {
	case len(a.Spec.Composites) == 0:
		r.problem(a, ReasonInvalidSpec, "spec.composites: must name the conduit of the attractor")
		return
	case a.Spec.Interface.NSMVlan.VlanID == nil:
		r.problem(a, ReasonInvalidSpec, "spec.interface.nsm-vlan.vlan-id: must be set")
		return
	}
	n := attractorStrings(a, t.Name)
	r.add(a, r.nseVlan(a, t, n))
	r.add(a, r.loadBalancer(a, t, n))
	r.add(a, r.pdb(a))
}
