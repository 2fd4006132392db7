package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// ConduitTypeStatelessLB is the only conduit type.
const ConduitTypeStatelessLB = "stateless-lb"

// ConduitSpec defines a conduit: the path from the front-ends to the targets.
type ConduitSpec struct {
	// Type is the conduit type; only stateless-lb is supported.
	// +kubebuilder:default=stateless-lb
	// +kubebuilder:validation:Enum=stateless-lb
	Type string `json:"type"`

	// DestinationPortNats rewrite destination ports of traffic to some vips.
	// +optional
	DestinationPortNats []PortNatSpec `json:"destination-port-nats,omitempty"`
}

// PortNatSpec rewrites a destination port for a set of vips.
type PortNatSpec struct {
	// Port is the destination port exposed by the service.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=65535
	Port uint16 `json:"port"`
	// TargetPort is the port the traffic is NATed to.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=65535
	TargetPort uint16 `json:"target-port"`
	// Vips names the Vips the rule applies to.
	Vips []string `json:"vips"`
	// Protocol is the transport protocol of the rule.
	Protocol TransportProtocol `json:"protocol"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="Trench",type=string,JSONPath=`.metadata.labels.trench`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1

// Conduit runs a proxy on every node that carries traffic between the front-ends and the targets.
type Conduit struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ConduitSpec `json:"spec,omitempty"`
	Status Status      `json:"status,omitempty"`
}

// MeridioStatus returns the status the operator writes.
func (c *Conduit) MeridioStatus() *Status { return &c.Status }

// +kubebuilder:object:root=true

// ConduitList is a list of Conduits.
type ConduitList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Conduit `json:"items"`
}

func init() { SchemeBuilder.Register(&Conduit{}, &ConduitList{}) }
