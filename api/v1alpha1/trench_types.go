package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// TrenchSpec defines a trench: an isolated traffic domain with its own NSP, IPAM and configuration.
type TrenchSpec struct {
	// IPFamily is the IP family of the trench's traffic.
	// +kubebuilder:default=dualstack
	// +kubebuilder:validation:Enum=dualstack;ipv4;ipv6
	IPFamily string `json:"ip-family"`
}

// TrenchStatus is the common status plus where the trench's render was delivered.
type TrenchStatus struct {
	Status `json:",inline"`

	// Revision is the delivered revision that holds the trench's current render: in git
	// mode `<branch>@sha1:<commit>`, the form of Flux's lastAppliedRevision. Empty in cluster
	// mode, where the render is applied directly.
	// +optional
	Revision string `json:"revision,omitempty"`

	// PullRequest is the pull (or merge) request that proposes the trench's render, in git
	// mode with a push branch and --git-pull-request.
	// +optional
	PullRequest *PullRequestStatus `json:"pullRequest,omitempty"`
}

// PullRequestStatus names a pull request on the forge.
type PullRequestStatus struct {
	// URL is the pull request's web page.
	URL string `json:"url"`
	// Number is its number (GitLab: the merge request's IID).
	Number int64 `json:"number"`
	// State is open, merged or closed.
	// +kubebuilder:validation:Enum=open;merged;closed
	State string `json:"state"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="IP-Family",type=string,JSONPath=`.spec.ip-family`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1
// +kubebuilder:printcolumn:name="Committed",type=string,JSONPath=`.status.conditions[?(@.type=="Committed")].status`
// +kubebuilder:printcolumn:name="Applied",type=string,JSONPath=`.status.conditions[?(@.type=="Applied")].status`
// +kubebuilder:printcolumn:name="Healthy",type=string,JSONPath=`.status.conditions[?(@.type=="Healthy")].status`
// +kubebuilder:printcolumn:name="Revision",type=string,JSONPath=`.status.revision`,priority=1
// +kubebuilder:printcolumn:name="Pull-Request",type=string,JSONPath=`.status.pullRequest.url`,priority=1

// Trench is the root of a Meridio deployment; every other kind names its trench in the label `trench`.
type Trench struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   TrenchSpec   `json:"spec,omitempty"`
	Status TrenchStatus `json:"status,omitempty"`
}

// MeridioStatus returns the status the operator writes.
func (t *Trench) MeridioStatus() *Status { return &t.Status.Status }

// +kubebuilder:object:root=true

// TrenchList is a list of Trenches.
type TrenchList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Trench `json:"items"`
}

func init() { SchemeBuilder.Register(&Trench{}, &TrenchList{}) }
