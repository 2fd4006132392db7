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

// Delivery tracking: the Trench follows its render from the commit to live, healthy objects.
const (
	// PullRequestCondition: the pull request proposing the trench's render is open or merged
	// (git mode with --git-pull-request); False when it could not be opened or was closed.
	PullRequestCondition = "PullRequest"
	// PullRequestOpenReason, PullRequestMergedReason, PullRequestClosedReason and
	// PullRequestFailedReason are the reasons of the PullRequest condition.
	PullRequestOpenReason   = "PullRequestOpen"
	PullRequestMergedReason = "PullRequestMerged"
	PullRequestClosedReason = "PullRequestClosed"
	PullRequestFailedReason = "PullRequestFailed"

	// CommittedCondition: the current render is in a pushed commit (git mode).
	CommittedCondition = "Committed"
	// AppliedCondition: every live object carries the content hash of the current render.
	AppliedCondition = "Applied"
	// HealthyCondition: every live object is ready by kstatus rules.
	HealthyCondition = "Healthy"

	// CommittedReason, AppliedReason and HealthyReason are the reasons of the conditions when True.
	CommittedReason = "Committed"
	AppliedReason   = "Applied"
	HealthyReason   = "Healthy"
	// CommitPendingReason: the render waits to be committed.
	CommitPendingReason = "CommitPending"
	// NotAppliedReason: some live objects are missing or of another render.
	NotAppliedReason = "NotApplied"
	// NotHealthyReason: some live objects are not ready (or have no status yet).
	NotHealthyReason = "NotHealthy"
	// ExternalModificationCondition (and reason): files of the trench's directory were changed
	// by someone else; the render is held back rather than overwrite them.
	ExternalModificationCondition = "ExternalModification"
)

// Finding is something admitted but probably wrong about a resource: a dangling reference or an
// address family that does not fit the trench. Admission returns it as a warning; status
// reports the dangling references (the *NotFound reasons) as the reason a resource is not ready.
// +kubebuilder:object:generate=false
type Finding struct {
	Reason  string
	Message string
}
