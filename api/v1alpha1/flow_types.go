package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// FlowSpec defines a flow: which traffic to vips belongs to a stream.
type FlowSpec struct {
	// Stream names the Stream of the flow; a flow without one is left out of the configuration.
	// +optional
	Stream string `json:"stream,omitempty"`

	// Vips names the destination Vips.
	Vips []string `json:"vips"`

	// SourceSubnets are the source prefixes; none may contain another.
	// +optional
	SourceSubnets []string `json:"source-subnets,omitempty"`

	// SourcePorts are source ports or ranges ("N", "N-M" or "any"); they may not overlap.
	// +optional
	SourcePorts []PortSpec `json:"source-ports,omitempty"`

	// DestinationPorts are destination ports or ranges ("N", "N-M" or "any"); they may not overlap.
	// +optional
	DestinationPorts []PortSpec `json:"destination-ports,omitempty"`

	// Protocols are the transport protocols of the flow, each at most once.
	// +listType=set
	Protocols []TransportProtocol `json:"protocols"`

	// Priority orders overlapping flows.
	// +kubebuilder:validation:Minimum=0
	Priority int32 `json:"priority"`

	// ByteMatches match bytes of the transport header, e.g. "tcp[2:2] = 80".
	// +optional
	ByteMatches []ByteMatch `json:"byte-matches,omitempty"`
}

// PortSpec is a port, an inclusive port range "N-M", or "any".
// +kubebuilder:validation:Pattern=`^(any|[0-9]+(-[0-9]+)?)$`
type PortSpec = string

// ByteMatch matches bytes of a transport header.
// +kubebuilder:validation:Pattern=`^(sctp|tcp|udp)\[[0-9]+ *: *[124]\]( *& *0x[0-9a-f]+)? *= *([0-9]+|0x[0-9a-f]+)$`
type ByteMatch = string

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="vips",type=string,JSONPath=`.spec.vips`
// +kubebuilder:printcolumn:name="dst-ports",type=string,JSONPath=`.spec.destination-ports`
// +kubebuilder:printcolumn:name="src-subnets",type=string,JSONPath=`.spec.source-subnets`
// +kubebuilder:printcolumn:name="src-ports",type=string,JSONPath=`.spec.source-ports`
// +kubebuilder:printcolumn:name="protocols",type=string,JSONPath=`.spec.protocols`
// +kubebuilder:printcolumn:name="byte-matches",type=string,JSONPath=`.spec.byte-matches`
// +kubebuilder:printcolumn:name="stream",type=string,JSONPath=`.spec.stream`
// +kubebuilder:printcolumn:name="Trench",type=string,JSONPath=`.metadata.labels.trench`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1

// Flow classifies traffic to vips into a stream.
type Flow struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   FlowSpec `json:"spec,omitempty"`
	Status Status   `json:"status,omitempty"`
}

// MeridioStatus returns the status the operator writes.
func (f *Flow) MeridioStatus() *Status { return &f.Status }

// +kubebuilder:object:root=true

// FlowList is a list of Flows.
type FlowList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Flow `json:"items"`
}

func init() { SchemeBuilder.Register(&Flow{}, &FlowList{}) }
