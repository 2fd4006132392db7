package v1alpha1

import (
	"fmt"
	"reflect"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Validated is implemented by every Meridio kind: the rules the admission webhooks and the offline
// render command apply.
// +kubebuilder:object:generate=false
type Validated interface {
	Object
	// Validate checks the object against the rules of its kind; s holds its trench and the other
	// resources of that trench (the object itself may be among them and is skipped).
	Validate(s *Snapshot) field.ErrorList
	// ValidateUpdate checks what may not change from old (an object of the same kind).
	ValidateUpdate(old Object) field.ErrorList
	// Findings lists what is admitted but probably wrong: references to resources that do not
	// exist (yet) and address families that do not fit the trench.
	Findings(s *Snapshot) []Finding
}

var (
	specPath        = field.NewPath("spec")
	trenchLabelPath = field.NewPath("metadata", "labels").Key(TrenchLabel)
)

// ValidateCreate runs the rules of a create request: the trench named by the label must exist,
// then the kind's own rules.
func ValidateCreate(obj Validated, s *Snapshot) field.ErrorList {
	if _, isTrench := obj.(*Trench); !isTrench {
		if errs := validateTrenchLabel(obj); len(errs) > 0 {
			return errs
		}
		if s == nil || s.Trench == nil {
			kind := reflect.TypeOf(obj).Elem().Name()
			return field.ErrorList{field.Invalid(trenchLabelPath, obj.GetLabels()[TrenchLabel],
				fmt.Sprintf("unable to find the trench in label, %s cannot be created", kind))}
		}
	}
	return obj.Validate(s)
}

// ValidateTrenchLabelUpdate refuses a change of the trench label, which would move the resource
// to another trench.
func ValidateTrenchLabelUpdate(obj, old Object) field.ErrorList {
	if _, isTrench := obj.(*Trench); isTrench {
		return nil
	}
	oldValue, hadLabel := old.GetLabels()[TrenchLabel]
	newValue, hasLabel := obj.GetLabels()[TrenchLabel]
	if oldValue != newValue || hadLabel != hasLabel {
		return field.ErrorList{field.Forbidden(trenchLabelPath, fmt.Sprintf("is immutable (was %q)", oldValue))}
	}
	return nil
}

func validateTrenchLabel(obj Object) field.ErrorList {
	if obj.GetLabels()[TrenchLabel] == "" {
		return field.ErrorList{field.Required(trenchLabelPath, "must name the trench of the resource")}
	}
	return nil
}

// immutable reports a change of an immutable field.
func immutable(path *field.Path, oldValue, newValue any) field.ErrorList {
	if reflect.DeepEqual(oldValue, newValue) {
		return nil
	}
	return field.ErrorList{field.Forbidden(path, fmt.Sprintf("is immutable (was %v)", deref(oldValue)))}
}

func deref(v any) any {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return "unset"
		}
		return rv.Elem().Interface()
	}
	return v
}

// missing reports a reference to a resource that does not exist.
func missing(path *field.Path, kind, name, trench string) Finding {
	return Finding{Reason: kind + "NotFound", Message: fmt.Sprintf("%s: %s %q not found in trench %q", path, kind, name, trench)}
}

// warnFamily reports value if its family does not fit the trench of s.
func warnFamily(s *Snapshot, path *field.Path, value string) []Finding {
	if f := ipFamilyOf(value); !familyFits(s.Family(), f) {
		return []Finding{{Reason: IPFamilyMismatchReason, Message: fmt.Sprintf("%s: %q is %s but the trench is %s", path, value, f, s.Family())}}
	}
	return nil
}

// Messages returns the messages of findings, as admission warnings.
func Messages(findings []Finding) []string {
	var out []string
	for _, f := range findings {
		out = append(out, f.Message)
	}
	return out
}

// sameObject tells whether two objects are the same resource (by name).
func sameObject(a, b Object) bool { return a.GetName() == b.GetName() }
