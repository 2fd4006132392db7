package gitsink

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meridio-operator/meridio-operator/delivery"
	"github.com/meridio-operator/meridio-operator/render"
)

// ReasonDryRunFailed: the API server would refuse an object of the render, so it is not
// committed.
const ReasonDryRunFailed = delivery.ReasonDryRunFailed

// DefaultVerifyFieldManager is the field manager of the dry runs: the one Flux's
// kustomize-controller applies with.
const DefaultVerifyFieldManager = "kustomize-controller"

// WithVerify makes the sink dry-run every object of a changed render with server-side apply
// (dryRun=All, as fieldManager) against the API server of c before committing it: a render
// the API server would refuse (schema, admission policy, quota) is never committed.
func WithVerify(c client.Client, fieldManager string) SinkOption {
	return func(s *Sink) { s.verifier, s.fieldManager = c, fieldManager }
}

// verify dry-runs objects; the error names the first object refused and why.
func (s *Sink) verify(ctx context.Context, items []render.Item) error {
	if s.verifier == nil {
		return nil
	}
	for _, it := range items {
		m, err := render.Clean(it.Object)
		if err != nil {
			return err
		}
		u := &unstructured.Unstructured{Object: m}
		err = s.verifier.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.DryRunAll, client.ForceOwnership, client.FieldOwner(s.fieldManager))
		if err == nil {
			continue
		}
		id := u.GetKind() + "/" + u.GetName()
		if apierrors.IsForbidden(err) || apierrors.IsInvalid(err) || apierrors.IsBadRequest(err) || apierrors.IsNotFound(err) {
			return &delivery.Error{Reason: ReasonDryRunFailed, Err: fmt.Errorf("the API server refuses %s in a dry run, so it is not committed: %w", id, err)}
		}
		return fmt.Errorf("dry-run %s: %w", id, err) // transient: retried
	}
	return nil
}
