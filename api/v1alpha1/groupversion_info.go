// Package v1alpha1 holds the Meridio custom resources (group meridio.nordix.org, version v1alpha1):
// their types, CRD markers, defaulting and validation. Defaulting and validation are plain functions,
// so the admission webhooks and the offline render command apply exactly the same rules.
//
// +kubebuilder:object:generate=true
// +groupName=meridio.nordix.org
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of every Meridio kind.
	GroupVersion = schema.GroupVersion{Group: "meridio.nordix.org", Version: "v1alpha1"}

	// SchemeBuilder registers the Meridio kinds with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the Meridio kinds to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
