// Package scheme builds the runtime scheme of the operator: the built-in kinds, CRDs and the
// Meridio kinds.
package scheme

import (
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
)

// New returns a scheme with the built-in kinds, CRDs and the Meridio kinds.
func New() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, meridiov1.AddToScheme, apiextensionsv1.AddToScheme} {
		if err := add(s); err != nil {
			panic(err) // the built-in registrations cannot fail
		}
	}
	return s
}
