package v1alpha1

// Condition reasons the operator sets on Meridio resources, besides the fluxcd meta ones
// (Succeeded, Progressing, ReconciliationFailed, ...).
const (
	// TrenchNotFoundReason: the trench named by the label does not exist.
	TrenchNotFoundReason = "TrenchNotFound"
	// ConduitNotFoundReason: a referenced Conduit does not exist in the trench.
	ConduitNotFoundReason = "ConduitNotFound"
	// StreamNotFoundReason: the referenced Stream does not exist in the trench.
	StreamNotFoundReason = "StreamNotFound"
	// VipNotFoundReason: a referenced Vip does not exist in the trench.
	VipNotFoundReason = "VipNotFound"
	// GatewayNotFoundReason: a referenced Gateway does not exist in the trench.
	GatewayNotFoundReason = "GatewayNotFound"
	// IPFamilyMismatchReason: an address does not fit the trench's IP family.
	IPFamilyMismatchReason = "IPFamilyMismatch"
	// NotConfiguredReason: the resource is left out of the trench configuration (a Stream
	// without a conduit, a Flow without a stream).
	NotConfiguredReason = "NotConfigured"
)

// Finding is something admitted but probably wrong about a resource: a dangling reference or an
// address family that does not fit the trench. Admission returns it as a warning; status
// reports it as the reason a resource is not ready.
// +kubebuilder:object:generate=false
type Finding struct {
	Reason  string
	Message string
}
