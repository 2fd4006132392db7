package bench

import (
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

type unstructuredObject struct{ Object map[string]any }

func (u *unstructuredObject) u() *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: u.Object}
}

func metaItems(list runtime.Object) ([]runtime.Object, error) { return apimeta.ExtractList(list) }
