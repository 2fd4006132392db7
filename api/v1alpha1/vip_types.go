package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// VipSpec defines a virtual IP address (or prefix) that a trench attracts.
type VipSpec struct {
	// Address is the virtual address as a prefix, e.g. 20.0.0.1/32 or 2000::1/128.
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.contains('/')",message="not a prefix: write the address and the prefix length, as in 10.0.0.0/24 or 2001:db8::/64"
	// +kubebuilder:validation:XValidation:rule="!self.contains('/') || isIP(self.substring(0, self.indexOf('/')))",message="not an IP address before the /: write an IPv4 or IPv6 address, as in 10.0.0.0/24 or 2001:db8::/64"
	// +kubebuilder:validation:XValidation:rule="!self.contains('/') || self.substring(self.indexOf('/') + 1).matches('^[0-9]{1,3}$')",message="the prefix length after the / is not a number: write 0-32 for IPv4, 0-128 for IPv6"
	// +kubebuilder:validation:XValidation:rule="!self.contains('/') || !isIP(self.substring(0, self.indexOf('/'))) || !self.substring(self.indexOf('/') + 1).matches('^[0-9]{1,3}$') || int(self.substring(self.indexOf('/') + 1)) <= (ip(self.substring(0, self.indexOf('/'))).family() == 4 ? 32 : 128)",message="prefix length out of range: 0-32 for an IPv4 address, 0-128 for IPv6"
	// +kubebuilder:validation:XValidation:rule="!isCIDR(self) || cidr(self).ip() == cidr(self).masked().ip()",message="host bits set: write the network address of the prefix, as in 10.0.0.0/24 for 10.0.0.1/24"
	// +kubebuilder:validation:XValidation:rule="isCIDR(self) || !self.contains('/') || !isIP(self.substring(0, self.indexOf('/'))) || !self.substring(self.indexOf('/') + 1).matches('^[0-9]{1,3}$') || int(self.substring(self.indexOf('/') + 1)) > (ip(self.substring(0, self.indexOf('/'))).family() == 4 ? 32 : 128)",message="not a prefix: write the address and the prefix length, as in 10.0.0.0/24 or 2001:db8::/64"
	// +optional
	Address string `json:"address,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Address",type=string,JSONPath=`.spec.address`
// +kubebuilder:printcolumn:name="Trench",type=string,JSONPath=`.metadata.labels.trench`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1

// Vip is a virtual address announced by the attractors of a trench.
type Vip struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   VipSpec `json:"spec,omitempty"`
	Status Status  `json:"status,omitempty"`
}

// MeridioStatus returns the status the operator writes.
func (v *Vip) MeridioStatus() *Status { return &v.Status }

// +kubebuilder:object:root=true

// VipList is a list of Vips.
type VipList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Vip `json:"items"`
}

func init() { SchemeBuilder.Register(&Vip{}, &VipList{}) }
