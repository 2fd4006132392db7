package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// InterfaceTypeNSMVlan is the only supported attractor interface type.
const InterfaceTypeNSMVlan = "nsm-vlan"

// AttractorSpec defines the front-ends that attract traffic into a trench.
type AttractorSpec struct {
	// Replicas is the number of load-balancer front-end pods.
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	// +optional
	Replicas *int32 `json:"replicas,omitempty"`

	// Composites names the Conduit the attracted traffic goes to (exactly one).
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=1
	Composites []string `json:"composites"`

	// Gateways names the Gateways the front-ends announce to.
	// +optional
	Gateways []string `json:"gateways,omitempty"`

	// Vips names the Vips the front-ends announce.
	// +optional
	Vips []string `json:"vips,omitempty"`

	// Interface is the external interface of the front-ends.
	Interface InterfaceSpec `json:"interface"`
}

// InterfaceSpec is the external interface of an attractor's front-ends.
type InterfaceSpec struct {
	// Name is informational only.
	Name string `json:"name"`

	// IPv4Prefix is the prefix of the external IPv4 network.
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.contains('/')",message="not a prefix: write the address and the prefix length, as in 10.0.0.0/24 or 2001:db8::/64"
	// +kubebuilder:validation:XValidation:rule="!self.contains('/') || isIP(self.substring(0, self.indexOf('/')))",message="not an IP address before the /: write an IPv4 or IPv6 address, as in 10.0.0.0/24 or 2001:db8::/64"
	// +kubebuilder:validation:XValidation:rule="!self.contains('/') || self.substring(self.indexOf('/') + 1).matches('^[0-9]{1,3}$')",message="the prefix length after the / is not a number: write 0-32 for IPv4, 0-128 for IPv6"
	// +kubebuilder:validation:XValidation:rule="!self.contains('/') || !isIP(self.substring(0, self.indexOf('/'))) || !self.substring(self.indexOf('/') + 1).matches('^[0-9]{1,3}$') || int(self.substring(self.indexOf('/') + 1)) <= (ip(self.substring(0, self.indexOf('/'))).family() == 4 ? 32 : 128)",message="prefix length out of range: 0-32 for an IPv4 address, 0-128 for IPv6"
	// +kubebuilder:validation:XValidation:rule="!isCIDR(self) || cidr(self).ip() == cidr(self).masked().ip()",message="host bits set: write the network address of the prefix, as in 10.0.0.0/24 for 10.0.0.1/24"
	// +kubebuilder:validation:XValidation:rule="isCIDR(self) || !self.contains('/') || !isIP(self.substring(0, self.indexOf('/'))) || !self.substring(self.indexOf('/') + 1).matches('^[0-9]{1,3}$') || int(self.substring(self.indexOf('/') + 1)) > (ip(self.substring(0, self.indexOf('/'))).family() == 4 ? 32 : 128)",message="not a prefix: write the address and the prefix length, as in 10.0.0.0/24 or 2001:db8::/64"
	IPv4Prefix string `json:"ipv4-prefix"`

	// IPv6Prefix is the prefix of the external IPv6 network.
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.contains('/')",message="not a prefix: write the address and the prefix length, as in 10.0.0.0/24 or 2001:db8::/64"
	// +kubebuilder:validation:XValidation:rule="!self.contains('/') || isIP(self.substring(0, self.indexOf('/')))",message="not an IP address before the /: write an IPv4 or IPv6 address, as in 10.0.0.0/24 or 2001:db8::/64"
	// +kubebuilder:validation:XValidation:rule="!self.contains('/') || self.substring(self.indexOf('/') + 1).matches('^[0-9]{1,3}$')",message="the prefix length after the / is not a number: write 0-32 for IPv4, 0-128 for IPv6"
	// +kubebuilder:validation:XValidation:rule="!self.contains('/') || !isIP(self.substring(0, self.indexOf('/'))) || !self.substring(self.indexOf('/') + 1).matches('^[0-9]{1,3}$') || int(self.substring(self.indexOf('/') + 1)) <= (ip(self.substring(0, self.indexOf('/'))).family() == 4 ? 32 : 128)",message="prefix length out of range: 0-32 for an IPv4 address, 0-128 for IPv6"
	// +kubebuilder:validation:XValidation:rule="!isCIDR(self) || cidr(self).ip() == cidr(self).masked().ip()",message="host bits set: write the network address of the prefix, as in 10.0.0.0/24 for 10.0.0.1/24"
	// +kubebuilder:validation:XValidation:rule="isCIDR(self) || !self.contains('/') || !isIP(self.substring(0, self.indexOf('/'))) || !self.substring(self.indexOf('/') + 1).matches('^[0-9]{1,3}$') || int(self.substring(self.indexOf('/') + 1)) > (ip(self.substring(0, self.indexOf('/'))).family() == 4 ? 32 : 128)",message="not a prefix: write the address and the prefix length, as in 10.0.0.0/24 or 2001:db8::/64"
	IPv6Prefix string `json:"ipv6-prefix"`

	// Type is the interface type; only nsm-vlan is supported.
	// +kubebuilder:default=nsm-vlan
	// +kubebuilder:validation:Enum=nsm-vlan
	// +optional
	Type string `json:"type,omitempty"`

	// NSMVlan configures the VLAN interface when Type is nsm-vlan.
	// +optional
	NSMVlan NSMVlanSpec `json:"nsm-vlan,omitempty"`
}

// NSMVlanSpec is a VLAN on a base interface of the worker nodes.
type NSMVlanSpec struct {
	// VlanID is the VLAN id (0 means untagged).
	// +optional
	VlanID *int32 `json:"vlan-id,omitempty"`

	// BaseInterface is the node interface the VLAN is created on.
	// +optional
	BaseInterface string `json:"base-interface,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Interface-Name",type=string,JSONPath=`.spec.interface.name`
// +kubebuilder:printcolumn:name="Interface-Type",type=string,JSONPath=`.spec.interface.type`
// +kubebuilder:printcolumn:name="Gateways",type=string,JSONPath=`.spec.gateways`
// +kubebuilder:printcolumn:name="Vips",type=string,JSONPath=`.spec.vips`
// +kubebuilder:printcolumn:name="Composites",type=string,JSONPath=`.spec.composites`
// +kubebuilder:printcolumn:name="Replicas",type=string,JSONPath=`.spec.replicas`
// +kubebuilder:printcolumn:name="Trench",type=string,JSONPath=`.metadata.labels.trench`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1

// Attractor runs the load-balancer front-ends and the VLAN NSE of a trench.
type Attractor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   AttractorSpec `json:"spec,omitempty"`
	Status Status        `json:"status,omitempty"`
}

// MeridioStatus returns the status the operator writes.
func (a *Attractor) MeridioStatus() *Status { return &a.Status }

// +kubebuilder:object:root=true

// AttractorList is a list of Attractors.
type AttractorList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Attractor `json:"items"`
}

func init() { SchemeBuilder.Register(&Attractor{}, &AttractorList{}) }
