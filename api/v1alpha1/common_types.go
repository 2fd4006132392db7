package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// TrenchLabel is the label that names the Trench a child resource belongs to.
const TrenchLabel = "trench"

// ResourceTemplateAnnotation picks a named resource-requirement template for the containers of the
// workloads rendered for a Trench, Attractor or Conduit.
const ResourceTemplateAnnotation = "resource-template"

// IP families of a Trench.
const (
	Dualstack = "dualstack"
	IPv4      = "ipv4"
	IPv6      = "ipv6"
)

// TransportProtocol is a layer-4 protocol of a flow or a port NAT.
// +kubebuilder:validation:Enum=tcp;udp;sctp
type TransportProtocol string

// Transport protocols.
const (
	TCP  TransportProtocol = "tcp"
	UDP  TransportProtocol = "udp"
	SCTP TransportProtocol = "sctp"
)

// Status is what the operator reports on every Meridio resource.
type Status struct {
	// ObservedGeneration is the last generation the operator has acted on.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions hold Ready, Reconciling and Stalled (fluxcd meta condition types).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// GetConditions returns the conditions of the status.
func (s *Status) GetConditions() []metav1.Condition { return s.Conditions }

// SetConditions replaces the conditions of the status.
func (s *Status) SetConditions(c []metav1.Condition) { s.Conditions = c }

// Object is a Meridio resource: a Kubernetes object with the common status.
// +kubebuilder:object:generate=false
type Object interface {
	metav1.Object
	runtime.Object
	// MeridioStatus returns the status the operator writes.
	MeridioStatus() *Status
}
