package bench

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

type unstructuredObject struct{ Object map[string]any }

func (u *unstructuredObject) u() *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: u.Object}
}
