// Package crdschema checks Meridio resources against the generated CRDs with the code the API
// server runs for custom resources (structural pruning, schema defaults, OpenAPI schema
// validation, list types, CEL rules and the object metadata rules), so that offline tools give
// the API server's verdict without a hand-written copy of the schema.
package crdschema

import (
	"context"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"sync"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	schemaobjectmeta "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"

	"github.com/meridio-operator/meridio-operator/config"
)

// kindSchema is what the API server builds from one served version of a CRD.
type kindSchema struct {
	structural *structuralschema.Structural
	validator  validation.SchemaValidator
	cel        *cel.Validator
	namespaced bool
}

// schemas are the Meridio kinds' schemas by kind, built once from the embedded CRDs.
var schemas = sync.OnceValues(func() (map[string]*kindSchema, error) {
	files, err := fs.Glob(config.Manifests, "crd/bases/*.yaml")
	if err != nil {
		return nil, err
	}
	out := map[string]*kindSchema{}
	for _, f := range files {
		data, err := fs.ReadFile(config.Manifests, f)
		if err != nil {
			return nil, err
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.Unmarshal(data, crd); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		ks, err := build(crd)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		out[crd.Spec.Names.Kind] = ks
	}
	return out, nil
})

// build prepares the validation of the first served version of crd, as the API server does.
func build(crd *apiextensionsv1.CustomResourceDefinition) (*kindSchema, error) {
	for _, v := range crd.Spec.Versions {
		if !v.Served || v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
			continue
		}
		internal := &apiextensions.JSONSchemaProps{}
		if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, internal, nil); err != nil {
			return nil, err
		}
		structural, err := structuralschema.NewStructural(internal)
		if err != nil {
			return nil, err
		}
		validator, _, err := validation.NewSchemaValidator(internal)
		if err != nil {
			return nil, err
		}
		return &kindSchema{
			structural: structural,
			validator:  validator,
			cel:        cel.NewValidator(structural, true, celconfig.PerCallLimit),
			namespaced: crd.Spec.Scope == apiextensionsv1.NamespaceScoped,
		}, nil
	}
	return nil, fmt.Errorf("no served version with a schema")
}

// Kinds lists the kinds there is a schema for, sorted.
func Kinds() []string {
	m, err := schemas()
	if err != nil {
		return nil
	}
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Admit runs what the API server runs on a create of u with strict field validation (as
// kubectl sends it), before any admission webhook: fields the schema does not know are refused,
// nulls without a default dropped, the schema's defaults applied to u, and then u is validated against the schema, its list
// types and CEL rules, and the metadata rules of custom resources. old, when not nil, makes it
// an update: CEL transition rules compare with it.
func Admit(ctx context.Context, u, old *unstructured.Unstructured) field.ErrorList {
	all, err := schemas()
	if err != nil {
		return field.ErrorList{field.InternalError(nil, fmt.Errorf("load the CRDs: %w", err))}
	}
	ks := all[u.GetKind()]
	if ks == nil {
		return field.ErrorList{field.NotSupported(field.NewPath("kind"), u.GetKind(), Kinds())}
	}
	// Decoding, as the API server's converter does it: unknown fields (metadata's too) are
	// collected and pruned, nulls of fields that have no default dropped, metadata coerced.
	_, _, unknown, err := schemaobjectmeta.GetObjectMetaWithOptions(u.Object, schemaobjectmeta.ObjectMetaOptions{ReturnUnknownFieldPaths: true})
	if err != nil {
		return field.ErrorList{field.Invalid(field.NewPath("metadata"), field.OmitValueType{}, err.Error())}
	}
	unknown = append(unknown, structuralpruning.PruneWithOptions(u.Object, ks.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})...)
	structuraldefaulting.PruneNonNullableNullsWithoutDefaults(u.Object, ks.structural)
	ferr, paths := schemaobjectmeta.CoerceWithOptions(nil, u.Object, ks.structural, false, schemaobjectmeta.CoerceOptions{ReturnUnknownFieldPaths: true})
	if ferr != nil {
		return field.ErrorList{ferr}
	}
	if unknown = append(unknown, paths...); len(unknown) > 0 {
		var errs field.ErrorList
		for _, p := range unknown {
			errs = append(errs, field.Invalid(path(p), field.OmitValueType{}, "unknown field (not declared in the schema)"))
		}
		return errs
	}
	structuraldefaulting.Default(u.Object, ks.structural)

	errs := validateMeta(u, ks.namespaced)
	var oldObj any
	if old == nil {
		errs = append(errs, validation.ValidateCustomResource(nil, u.UnstructuredContent(), ks.validator)...)
	} else {
		oldObj = old.UnstructuredContent()
		errs = append(errs, validation.ValidateCustomResourceUpdate(nil, u.UnstructuredContent(), oldObj, ks.validator)...)
	}
	errs = append(errs, listtype.ValidateListSetsAndMaps(nil, ks.structural, u.Object)...)
	// As the API server does, CEL rules run only on an object that passed the schema (a
	// rule may assume the types it declares).
	if len(errs) == 0 {
		celErrs, _ := ks.cel.Validate(ctx, nil, ks.structural, u.Object, oldObj, celconfig.RuntimeCELCostBudget)
		// The validator walks the properties in map order: sorted, the same input gives the
		// same output. (A field's own rules keep their order.)
		sort.SliceStable(celErrs, func(i, j int) bool { return celErrs[i].Field < celErrs[j].Field })
		errs = append(errs, celErrs...)
	}
	return errs
}

// validateMeta applies the API server's rules for the metadata of a custom resource (the name
// a DNS subdomain, labels, annotations, ...). A missing namespace is not an error here: the
// resource gets one when it is applied.
func validateMeta(u *unstructured.Unstructured, namespaced bool) field.ErrorList {
	m := u.DeepCopy()
	if namespaced && m.GetNamespace() == "" {
		m.SetNamespace("default")
	}
	return apivalidation.ValidateObjectMetaAccessor(m, namespaced, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
}

// path turns a dotted unknown-field path ("spec.foo") into a field path.
func path(p string) *field.Path {
	parts := strings.Split(p, ".")
	return field.NewPath(parts[0], parts[1:]...)
}
