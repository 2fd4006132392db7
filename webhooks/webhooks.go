// Package webhooks serves the admission webhooks of the Meridio kinds. They call the plain
// defaulting and validation functions of api/v1alpha1 and read sibling resources through the
// manager's cache.
package webhooks

import (
	"context"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/internal/snapshot"
	"github.com/meridio-operator/meridio-operator/render"
)

// +kubebuilder:webhook:path=/validate-meridio-nordix-org-v1alpha1-trench,mutating=false,failurePolicy=fail,sideEffects=None,groups=meridio.nordix.org,resources=trenches,verbs=create;update,versions=v1alpha1,name=vtrench.kb.io,admissionReviewVersions=v1
// +kubebuilder:webhook:path=/validate-meridio-nordix-org-v1alpha1-attractor,mutating=false,failurePolicy=fail,sideEffects=None,groups=meridio.nordix.org,resources=attractors,verbs=create;update,versions=v1alpha1,name=vattractor.kb.io,admissionReviewVersions=v1
// +kubebuilder:webhook:path=/validate-meridio-nordix-org-v1alpha1-gateway,mutating=false,failurePolicy=fail,sideEffects=None,groups=meridio.nordix.org,resources=gateways,verbs=create;update,versions=v1alpha1,name=vgateway.kb.io,admissionReviewVersions=v1
// +kubebuilder:webhook:path=/validate-meridio-nordix-org-v1alpha1-vip,mutating=false,failurePolicy=fail,sideEffects=None,groups=meridio.nordix.org,resources=vips,verbs=create;update,versions=v1alpha1,name=vvip.kb.io,admissionReviewVersions=v1
// +kubebuilder:webhook:path=/validate-meridio-nordix-org-v1alpha1-conduit,mutating=false,failurePolicy=fail,sideEffects=None,groups=meridio.nordix.org,resources=conduits,verbs=create;update,versions=v1alpha1,name=vconduit.kb.io,admissionReviewVersions=v1
// +kubebuilder:webhook:path=/validate-meridio-nordix-org-v1alpha1-stream,mutating=false,failurePolicy=fail,sideEffects=None,groups=meridio.nordix.org,resources=streams,verbs=create;update,versions=v1alpha1,name=vstream.kb.io,admissionReviewVersions=v1
// +kubebuilder:webhook:path=/validate-meridio-nordix-org-v1alpha1-flow,mutating=false,failurePolicy=fail,sideEffects=None,groups=meridio.nordix.org,resources=flows,verbs=create;update,versions=v1alpha1,name=vflow.kb.io,admissionReviewVersions=v1
// +kubebuilder:webhook:path=/mutate-meridio-nordix-org-v1alpha1-gateway,mutating=true,failurePolicy=fail,sideEffects=None,groups=meridio.nordix.org,resources=gateways,verbs=create;update,versions=v1alpha1,name=mgateway.kb.io,admissionReviewVersions=v1

// Options configure the webhooks.
type Options struct {
	// Mutating adds the Gateway defaulting webhook.
	Mutating bool
	// Settings are the operator's render settings: a Trench, Attractor or Conduit whose
	// rendered objects would get invalid names with them (the name prefix) is refused.
	Settings render.Settings
}

// Setup registers the validating webhooks of all seven kinds and, when asked, the Gateway
// defaulting webhook.
func Setup(mgr ctrl.Manager, opts Options) error {
	deps := validatorDeps{reader: cachedReader{cache: mgr.GetClient(), live: mgr.GetAPIReader()}, settings: opts.Settings}
	gw := ctrl.NewWebhookManagedBy(mgr, &meridiov1.Gateway{}).WithValidator(&validator[*meridiov1.Gateway]{deps})
	if opts.Mutating {
		gw = gw.WithDefaulter(gatewayDefaulter{})
	}
	for _, err := range []error{
		ctrl.NewWebhookManagedBy(mgr, &meridiov1.Trench{}).WithValidator(&validator[*meridiov1.Trench]{deps}).Complete(),
		ctrl.NewWebhookManagedBy(mgr, &meridiov1.Attractor{}).WithValidator(&validator[*meridiov1.Attractor]{deps}).Complete(),
		gw.Complete(),
		ctrl.NewWebhookManagedBy(mgr, &meridiov1.Vip{}).WithValidator(&validator[*meridiov1.Vip]{deps}).Complete(),
		ctrl.NewWebhookManagedBy(mgr, &meridiov1.Conduit{}).WithValidator(&validator[*meridiov1.Conduit]{deps}).Complete(),
		ctrl.NewWebhookManagedBy(mgr, &meridiov1.Stream{}).WithValidator(&validator[*meridiov1.Stream]{deps}).Complete(),
		ctrl.NewWebhookManagedBy(mgr, &meridiov1.Flow{}).WithValidator(&validator[*meridiov1.Flow]{deps}).Complete(),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

// gatewayDefaulter is the mutating webhook of Gateways.
type gatewayDefaulter struct{}

// Default fills the Gateway defaults.
func (gatewayDefaulter) Default(_ context.Context, g *meridiov1.Gateway) error {
	g.Default()
	return nil
}

// validator is the validating webhook of one kind.
type validator[T meridiov1.Validated] struct{ validatorDeps }

// validatorDeps is what the validating webhooks of every kind read.
type validatorDeps struct {
	reader   cachedReader
	settings render.Settings
}

// cachedReader reads through the manager's cache, and falls back to the API server when the
// trench is not (yet) in the cache: a trench and its resources applied together (as GitOps tools
// do) would otherwise race the cache and be refused.
type cachedReader struct {
	cache client.Reader
	live  client.Reader
}

// ValidateCreate refuses an object that breaks a rule, and warns about dangling references.
func (v *validator[T]) ValidateCreate(ctx context.Context, obj T) (admission.Warnings, error) {
	s, err := v.snapshot(ctx, obj)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	if errs := meridiov1.ValidateCreate(obj, s); len(errs) > 0 {
		return nil, invalid(obj, errs)
	}
	// Names are immutable: a name that cannot render is refused when it is created. So is a
	// resource that would make its trench's ConfigMap too large (as on update, below).
	if errs := append(render.NameErrors(obj, v.settings), render.ConfigurationErrors(obj, s, v.settings)...); len(errs) > 0 {
		return nil, invalid(obj, errs)
	}
	return meridiov1.Messages(obj.Findings(s)), nil
}

// ValidateUpdate refuses changes of immutable fields (Forbidden) and objects that break a rule.
func (v *validator[T]) ValidateUpdate(ctx context.Context, oldObj, obj T) (admission.Warnings, error) {
	forbidden := append(meridiov1.ValidateTrenchLabelUpdate(obj, oldObj), obj.ValidateUpdate(oldObj)...)
	if len(forbidden) > 0 {
		return nil, apierrors.NewForbidden(resourceOf(obj), obj.GetName(), forbidden.ToAggregate())
	}
	s, err := v.snapshot(ctx, obj)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	if errs := append(obj.Validate(s), render.ConfigurationErrors(obj, s, v.settings)...); len(errs) > 0 {
		return nil, invalid(obj, errs)
	}
	return meridiov1.Messages(obj.Findings(s)), nil
}

// ValidateDelete allows every deletion.
func (v *validator[T]) ValidateDelete(context.Context, T) (admission.Warnings, error) {
	return nil, nil
}

func (v *validator[T]) snapshot(ctx context.Context, obj T) (*meridiov1.Snapshot, error) {
	if t, ok := meridiov1.Validated(obj).(*meridiov1.Trench); ok {
		return &meridiov1.Snapshot{Trench: t}, nil
	}
	trench := obj.GetLabels()[meridiov1.TrenchLabel]
	if trench == "" {
		return &meridiov1.Snapshot{}, nil
	}
	s, err := snapshot.Load(ctx, v.reader.cache, obj.GetNamespace(), trench)
	if err != nil {
		// A namespace the cache does not cover (the webhook configuration of config/ only
		// sends the operator's namespace, but a cluster may be set up otherwise).
		return snapshot.Load(ctx, v.reader.live, obj.GetNamespace(), trench)
	}
	if s.Trench != nil {
		return s, nil
	}
	t := &meridiov1.Trench{}
	switch err := v.reader.live.Get(ctx, client.ObjectKey{Namespace: obj.GetNamespace(), Name: trench}, t); {
	case err == nil:
		s.Trench = t
	case !apierrors.IsNotFound(err):
		return nil, err
	}
	return s, nil
}

// resourceOf returns the group and plural resource of a Meridio object.
func resourceOf(obj meridiov1.Validated) schema.GroupResource {
	kind := strings.ToLower(obj.GetObjectKind().GroupVersionKind().Kind)
	if strings.HasSuffix(kind, "ch") {
		return meridiov1.GroupVersion.WithResource(kind + "es").GroupResource()
	}
	return meridiov1.GroupVersion.WithResource(kind + "s").GroupResource()
}

func invalid(obj meridiov1.Validated, errs field.ErrorList) error {
	return apierrors.NewInvalid(obj.GetObjectKind().GroupVersionKind().GroupKind(), obj.GetName(), errs)
}
