// Package snapshot reads one trench and its resources through a client (the manager's cache in
// the operator), so that webhooks and reconcilers see the same view.
package snapshot

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
)

// Load reads trench namespace/name and every resource labelled with it. The Trench of the
// result is nil when the trench does not exist; its lists are sorted by name.
func Load(ctx context.Context, r client.Reader, namespace, trench string) (*meridiov1.Snapshot, error) {
	s := &meridiov1.Snapshot{}
	t := &meridiov1.Trench{}
	switch err := r.Get(ctx, client.ObjectKey{Namespace: namespace, Name: trench}, t); {
	case err == nil:
		s.Trench = t
	case !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("get trench %s/%s: %w", namespace, trench, err)
	}
	opts := []client.ListOption{client.InNamespace(namespace), client.MatchingLabels{meridiov1.TrenchLabel: trench}}
	var (
		attractors meridiov1.AttractorList
		gateways   meridiov1.GatewayList
		vips       meridiov1.VipList
		conduits   meridiov1.ConduitList
		streams    meridiov1.StreamList
		flows      meridiov1.FlowList
	)
	for _, l := range []client.ObjectList{&attractors, &gateways, &vips, &conduits, &streams, &flows} {
		if err := r.List(ctx, l, opts...); err != nil {
			return nil, fmt.Errorf("list %T of trench %s/%s: %w", l, namespace, trench, err)
		}
	}
	s.Attractors, s.Gateways, s.Vips = attractors.Items, gateways.Items, vips.Items
	s.Conduits, s.Streams, s.Flows = conduits.Items, streams.Items, flows.Items
	s.Sort()
	return s, nil
}
