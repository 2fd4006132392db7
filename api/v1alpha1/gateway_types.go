package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Gateway protocols.
const (
	ProtocolBGP    = "bgp"
	ProtocolStatic = "static"
)

// GatewaySpec defines a router the front-ends peer with.
type GatewaySpec struct {
	// Address is the IP address of the gateway (no prefix length).
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="!self.contains('/')",message="a gateway address has no prefix length: write the address alone, as in 192.0.2.1 or 2001:db8::1"
	// +kubebuilder:validation:XValidation:rule="self.contains('/') || isIP(self)",message="not an IP address: write an IPv4 or IPv6 address, as in 192.0.2.1 or 2001:db8::1"
	Address string `json:"address"`

	// Protocol is the routing protocol: bgp or static.
	// +kubebuilder:default=bgp
	// +kubebuilder:validation:Enum=bgp;static
	// +optional
	Protocol string `json:"protocol,omitempty"`

	// Bgp configures the session when Protocol is bgp; it must be empty otherwise.
	// +optional
	Bgp BgpSpec `json:"bgp,omitempty"`

	// Static configures static routing when Protocol is static; it must be empty otherwise.
	// +optional
	Static StaticSpec `json:"static,omitempty"`
}

// BgpSpec configures a BGP session.
type BgpSpec struct {
	// RemoteASN is the gateway's AS number.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=4294967295
	// +kubebuilder:validation:Format=int64
	// +optional
	RemoteASN *uint32 `json:"remote-asn,omitempty"`
	// LocalASN is the front-end's AS number.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=4294967295
	// +kubebuilder:validation:Format=int64
	// +optional
	LocalASN *uint32 `json:"local-asn,omitempty"`
	// RemotePort is the gateway's BGP port (default 179 with the mutating webhook).
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=65535
	// +optional
	RemotePort *uint16 `json:"remote-port,omitempty"`
	// LocalPort is the front-end's BGP port (default 179 with the mutating webhook).
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=65535
	// +optional
	LocalPort *uint16 `json:"local-port,omitempty"`
	// HoldTime is the BGP hold time, a duration of at least 3s (default 240s with the mutating webhook).
	// +optional
	HoldTime string `json:"hold-time,omitempty"`
	// BFD configures bidirectional forwarding detection for the session.
	// +optional
	BFD BfdSpec `json:"bfd,omitempty"`
	// Auth names the Secret and key holding the session's pre-shared key.
	// +optional
	Auth *BgpAuth `json:"auth,omitempty"`
}

// BgpAuth names a pre-shared key kept in a Secret.
type BgpAuth struct {
	// KeyName is the data key inside the Secret.
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	// +optional
	KeyName string `json:"key-name,omitempty"`
	// KeySource is the name of the Secret.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +optional
	KeySource string `json:"key-source,omitempty"`
}

// StaticSpec configures static routing towards a gateway.
type StaticSpec struct {
	// BFD configures bidirectional forwarding detection (on by default with the mutating webhook).
	// +optional
	BFD BfdSpec `json:"bfd,omitempty"`
}

// BfdSpec configures bidirectional forwarding detection.
type BfdSpec struct {
	// Switch turns BFD on or off.
	// +optional
	Switch *bool `json:"switch,omitempty"`
	// MinTx is the minimum transmit interval, a duration.
	// +optional
	MinTx string `json:"min-tx,omitempty"`
	// MinRx is the minimum receive interval, a duration.
	// +optional
	MinRx string `json:"min-rx,omitempty"`
	// Multiplier is the detection multiplier.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=65535
	// +optional
	Multiplier *uint16 `json:"multiplier,omitempty"`
}

// IsEmpty tells whether no BFD field is set.
func (b BfdSpec) IsEmpty() bool {
	return b.Switch == nil && b.MinTx == "" && b.MinRx == "" && b.Multiplier == nil
}

// IsEmpty tells whether no BGP field is set.
func (b BgpSpec) IsEmpty() bool {
	return b.RemoteASN == nil && b.LocalASN == nil && b.RemotePort == nil && b.LocalPort == nil &&
		b.HoldTime == "" && b.BFD.IsEmpty() && b.Auth == nil
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="address",type=string,JSONPath=`.spec.address`
// +kubebuilder:printcolumn:name="protocol",type=string,JSONPath=`.spec.protocol`
// +kubebuilder:printcolumn:name="trench",type=string,JSONPath=`.metadata.labels.trench`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1

// Gateway is a router that the front-ends of a trench exchange routes with.
type Gateway struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   GatewaySpec `json:"spec,omitempty"`
	Status Status      `json:"status,omitempty"`
}

// MeridioStatus returns the status the operator writes.
func (g *Gateway) MeridioStatus() *Status { return &g.Status }

// +kubebuilder:object:root=true

// GatewayList is a list of Gateways.
type GatewayList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Gateway `json:"items"`
}

func init() { SchemeBuilder.Register(&Gateway{}, &GatewayList{}) }
