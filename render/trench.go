package render

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
)

// Ports of the trench services.
const (
	nspPort  = 7778
	ipamPort = 7777
)

// statefulSet is the shape the NSP and IPAM share: one replica, ordered, with a data volume.
func statefulSet(name, namespace, dataVolume string, pod corev1.PodSpec) *appsv1.StatefulSet {
	return &appsv1.StatefulSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{"app": name}},
		Spec: appsv1.StatefulSetSpec{
			Replicas:             ptr.To[int32](1),
			ServiceName:          name,
			PodManagementPolicy:  appsv1.OrderedReadyPodManagement,
			RevisionHistoryLimit: ptr.To[int32](10),
			UpdateStrategy: appsv1.StatefulSetUpdateStrategy{
				Type:          appsv1.RollingUpdateStatefulSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To[int32](0)},
			},
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: podLabels(name)}, Spec: pod},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				ObjectMeta: metav1.ObjectMeta{Name: dataVolume},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
				},
			}},
		},
	}
}

// service is a ClusterIP service with one TCP port in front of app.
func service(name, namespace, app string, port int32) *corev1.Service {
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: map[string]string{"app": app},
			Ports:    []corev1.ServicePort{{Protocol: corev1.ProtocolTCP, Port: port, TargetPort: intstr.FromInt32(port)}},
		},
	}
}

// dataContainerSecurity is the container security of the NSP and IPAM.
func dataContainerSecurity() *corev1.SecurityContext {
	return securityContext("DAC_OVERRIDE", "NET_RAW", "SYS_PTRACE")
}

func (r *renderer) nsp(t *meridiov1.Trench) *appsv1.StatefulSet {
	name := r.set.name("nsp", t.Name)
	c := corev1.Container{
		Name:  containerNSP,
		Image: r.set.meridioImage("nsp"),
		Env: envs(
			env("NSP_PORT", itoa(nspPort)),
			env("NSP_NAMESPACE", t.Namespace),
			env("NSP_CONFIG_MAP_NAME", r.set.name("meridio-configuration", t.Name)),
			env("NSP_DATASOURCE", "/run/nsp/data/registry.db"),
			env("NSP_LOG_LEVEL", r.set.LogLevel),
		),
		VolumeMounts:    []corev1.VolumeMount{spireMount(), mount("nsp-data", "/run/nsp/data", false), mount("tmp", "/tmp", false)},
		SecurityContext: dataContainerSecurity(),
		StartupProbe:    healthProbe(startupProbe, false, healthSocket, ""),
		ReadinessProbe:  healthProbe(readinessProbe, true, ":"+itoa(nspPort), ""),
		LivenessProbe:   healthProbe(livenessProbe, false, healthSocket, ""),
	}
	r.resources(&c, t)
	return statefulSet(name, t.Namespace, "nsp-data", corev1.PodSpec{
		ServiceAccountName: r.set.NSPServiceAccount,
		ImagePullSecrets:   r.set.pullSecrets(),
		SecurityContext:    podSecurityContext(),
		Volumes:            []corev1.Volume{spireVolume(), memoryVolume("tmp")},
		Containers:         []corev1.Container{c},
	})
}

func (r *renderer) ipam(t *meridiov1.Trench) *appsv1.StatefulSet {
	name := r.set.name("ipam", t.Name)
	c := corev1.Container{
		Name:  containerIPAM,
		Image: r.set.meridioImage("ipam"),
		Env: envs(
			env("IPAM_PORT", itoa(ipamPort)),
			env("IPAM_DATASOURCE", "/run/ipam/data/registry.db"),
			env("IPAM_NAMESPACE", t.Namespace),
			env("IPAM_TRENCH_NAME", t.Name),
			env("IPAM_NSP_SERVICE", r.nspAddress(t.Name)),
			env("IPAM_PREFIX_IPV4", "172.16.0.0/16"),
			env("IPAM_PREFIX_IPV6", "fd00::/48"),
			env("IPAM_CONDUIT_PREFIX_LENGTH_IPV4", "20"),
			env("IPAM_CONDUIT_PREFIX_LENGTH_IPV6", "56"),
			env("IPAM_NODE_PREFIX_LENGTH_IPV4", "24"),
			env("IPAM_NODE_PREFIX_LENGTH_IPV6", "64"),
			env("IPAM_IP_FAMILY", t.Spec.IPFamily),
			env("IPAM_LOG_LEVEL", r.set.LogLevel),
		),
		VolumeMounts:    []corev1.VolumeMount{spireMount(), mount("ipam-data", "/run/ipam/data", false), mount("tmp", "/tmp", false)},
		SecurityContext: dataContainerSecurity(),
	}
	unixProbes(&c)
	r.resources(&c, t)
	return statefulSet(name, t.Namespace, "ipam-data", corev1.PodSpec{
		AutomountServiceAccountToken: ptr.To(false),
		ImagePullSecrets:             r.set.pullSecrets(),
		SecurityContext:              podSecurityContext(),
		Volumes:                      []corev1.Volume{spireVolume(), memoryVolume("tmp")},
		Containers:                   []corev1.Container{c},
	})
}

func (r *renderer) nspAddress(trench string) string {
	return r.set.name("nsp-service", trench) + ":" + itoa(nspPort)
}

func (r *renderer) ipamAddress(trench string) string {
	return r.set.name("ipam-service", trench) + ":" + itoa(ipamPort)
}

// trenchObjects renders the NSP, the IPAM, their services and the configuration of a trench.
func (r *renderer) trenchObjects(s *meridiov1.Snapshot) error {
	t := s.Trench
	cm, err := configMap(s, r.set)
	if err != nil {
		return err
	}
	r.add(t, cm)
	r.result.Configuration = cm
	if size := ConfigMapSize(cm); size > MaxConfigMapSize {
		r.problem(t, ReasonConfigurationTooLarge, fmt.Sprintf("the configuration ConfigMap %s would hold %d bytes, over the API server's limit of %d for a ConfigMap: nothing of the trench is delivered until its resources shrink (fewer flows, streams or vips)",
			cm.Name, size, MaxConfigMapSize))
	}
	r.add(t, r.nsp(t))
	r.add(t, service(r.set.name("nsp-service", t.Name), t.Namespace, r.set.name("nsp", t.Name), nspPort))
	r.add(t, r.ipam(t))
	r.add(t, service(r.set.name("ipam-service", t.Name), t.Namespace, r.set.name("ipam", t.Name), ipamPort))
	return nil
}
