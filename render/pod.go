package render

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// Pieces every Meridio pod shares (SPEC §2.4).
const (
	spireVolumeName = "spire-agent-socket"
	spireSocketDir  = "/run/spire/sockets"
	nsmVolumeName   = "nsm-socket"
	nsmSocketDir    = "/var/lib/networkservicemesh"
	healthSocket    = "unix:///tmp/health.sock"
	maxTokenLife    = "10m"
)

func podLabels(app string) map[string]string {
	return map[string]string{"app": app, "spiffe.io/spiffe-id": "true"}
}

func podSecurityContext() *corev1.PodSecurityContext {
	return &corev1.PodSecurityContext{FSGroup: ptr.To[int64](2000), FSGroupChangePolicy: ptr.To(corev1.FSGroupChangeOnRootMismatch)}
}

func (s *Settings) pullSecrets() []corev1.LocalObjectReference {
	var refs []corev1.LocalObjectReference
	for _, n := range s.ImagePullSecrets {
		refs = append(refs, corev1.LocalObjectReference{Name: n})
	}
	return refs
}

func hostPathVolume(name, path string, t corev1.HostPathType) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: path, Type: ptr.To(t)}}}
}

func memoryVolume(name string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}}
}

func spireVolume() corev1.Volume {
	return hostPathVolume(spireVolumeName, spireSocketDir, corev1.HostPathDirectory)
}

func nsmVolume() corev1.Volume {
	return hostPathVolume(nsmVolumeName, nsmSocketDir, corev1.HostPathDirectoryOrCreate)
}

func mount(name, path string, readOnly bool) corev1.VolumeMount {
	return corev1.VolumeMount{Name: name, MountPath: path, ReadOnly: readOnly}
}

func spireMount() corev1.VolumeMount { return mount(spireVolumeName, spireSocketDir, true) }

func env(name, value string) corev1.EnvVar { return corev1.EnvVar{Name: name, Value: value} }

func fieldEnv(name, path string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}}
}

// envs starts every container's environment with the SPIRE socket.
func envs(vars ...corev1.EnvVar) []corev1.EnvVar {
	return append([]corev1.EnvVar{env("SPIFFE_ENDPOINT_SOCKET", "unix://"+spireSocketDir+"/agent.sock")}, vars...)
}

// securityContext is a non-root, read-only container that drops every capability but add.
func securityContext(add ...corev1.Capability) *corev1.SecurityContext {
	sc := &corev1.SecurityContext{
		RunAsNonRoot:           ptr.To(true),
		ReadOnlyRootFilesystem: ptr.To(true),
		Capabilities:           &corev1.Capabilities{Drop: []corev1.Capability{"all"}},
	}
	if len(add) > 0 {
		sc.Capabilities.Add = add
	}
	return sc
}

// probeKind selects the timers of a probe.
type probeKind int

const (
	startupProbe probeKind = iota
	readinessProbe
	livenessProbe
)

// healthProbe runs grpc_health_probe against addr (healthSocket for the local health server).
func healthProbe(kind probeKind, spiffe bool, addr, service string) *corev1.Probe {
	cmd := []string{"/bin/grpc_health_probe"}
	if spiffe {
		cmd = append(cmd, "-spiffe")
	}
	cmd = append(cmd, "-addr="+addr, "-service="+service, "-connect-timeout=250ms", "-rpc-timeout=350ms")
	p := &corev1.Probe{
		ProbeHandler:     corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: cmd}},
		PeriodSeconds:    10,
		TimeoutSeconds:   3,
		FailureThreshold: 5,
		SuccessThreshold: 1,
	}
	if kind == startupProbe {
		p.PeriodSeconds, p.TimeoutSeconds, p.FailureThreshold = 2, 2, 30
	}
	return p
}

// unixProbes are the startup, readiness and liveness probes of a Meridio container with a local
// health server.
func unixProbes(c *corev1.Container) {
	c.StartupProbe = healthProbe(startupProbe, false, healthSocket, "")
	c.ReadinessProbe = healthProbe(readinessProbe, false, healthSocket, "Readiness")
	c.LivenessProbe = healthProbe(livenessProbe, false, healthSocket, "")
}

// sysctlInit is the privileged init container that prepares the node's kernel.
func (s *Settings) sysctlInit(script string) corev1.Container {
	return corev1.Container{
		Name:            "sysctl-init",
		Image:           s.busyboxImage(),
		Command:         []string{"/bin/sh"},
		Args:            []string{"-c", script},
		SecurityContext: &corev1.SecurityContext{Privileged: ptr.To(true)},
	}
}
