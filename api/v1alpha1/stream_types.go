package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// StreamSpec defines a stream: a group of flows served by the same targets.
type StreamSpec struct {
	// Conduit names the Conduit of the stream; an empty stream is left out of the configuration.
	// +optional
	Conduit string `json:"conduit,omitempty"`

	// MaxTargets is the largest number of targets that may register to the stream.
	// +kubebuilder:default=100
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	// +optional
	MaxTargets uint32 `json:"max-targets,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="conduit",type=string,JSONPath=`.spec.conduit`
// +kubebuilder:printcolumn:name="Trench",type=string,JSONPath=`.metadata.labels.trench`
// +kubebuilder:printcolumn:name="max-targets",type=integer,JSONPath=`.spec.max-targets`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1

// Stream groups flows of a conduit.
type Stream struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   StreamSpec `json:"spec,omitempty"`
	Status Status     `json:"status,omitempty"`
}

// MeridioStatus returns the status the operator writes.
func (s *Stream) MeridioStatus() *Status { return &s.Status }

// +kubebuilder:object:root=true

// StreamList is a list of Streams.
type StreamList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Stream `json:"items"`
}

func init() { SchemeBuilder.Register(&Stream{}, &StreamList{}) }
