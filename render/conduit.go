package render

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
)

// proxy renders the DaemonSet that connects every node's targets to a conduit.
func (r *renderer) proxy(c *meridiov1.Conduit, t *meridiov1.Trench) *appsv1.DaemonSet {
	name := r.set.name("proxy", c.Name)
	p := corev1.Container{
		Name:  containerProxy,
		Image: r.set.meridioImage("proxy"),
		Env: envs(
			fieldEnv("NSM_NAME", "metadata.name"),
			fieldEnv("NSM_HOST", "spec.nodeName"),
			env("NSM_NAMESPACE", c.Namespace),
			env("NSM_CONNECT_TO", "unix://"+nsmSocketDir+"/nsm.io.sock"),
			env("NSM_SERVICE_NAME", fmt.Sprintf("proxy.%s.%s.%s", c.Name, t.Name, c.Namespace)),
			env("NSM_IPAM_SERVICE", r.ipamAddress(t.Name)),
			env("NSM_NETWORK_SERVICE_NAME", fmt.Sprintf("%s.%s.%s", c.Name, t.Name, c.Namespace)),
			env("NSM_NSP_SERVICE_NAME", r.set.NamePrefix+"nsp-service"),
			env("NSM_NSP_SERVICE_PORT", itoa(nspPort)),
			env("NSM_TRENCH", t.Name),
			env("NSM_CONDUIT", c.Name),
			env("NSM_IP_FAMILY", t.Spec.IPFamily),
			env("NSM_MAX_TOKEN_LIFETIME", maxTokenLife),
			env("NSM_LOG_LEVEL", r.set.LogLevel),
		),
		VolumeMounts:    []corev1.VolumeMount{spireMount(), mount(nsmVolumeName, nsmSocketDir, true), mount("tmp", "/tmp", false)},
		SecurityContext: securityContext("NET_ADMIN", "DAC_OVERRIDE", "NET_RAW", "SYS_PTRACE"),
	}
	unixProbes(&p)
	r.resources(&p, c)
	return &appsv1.DaemonSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: c.Namespace, Labels: map[string]string{"app": name}},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels(name)},
				Spec: corev1.PodSpec{
					AutomountServiceAccountToken: ptr.To(false),
					ImagePullSecrets:             r.set.pullSecrets(),
					SecurityContext:              podSecurityContext(),
					Volumes:                      []corev1.Volume{spireVolume(), nsmVolume(), memoryVolume("tmp")},
					InitContainers:               []corev1.Container{r.set.sysctlInit(sysctlScript(t.Spec.IPFamily, true))},
					Containers:                   []corev1.Container{p},
				},
			},
		},
	}
}
