// Package livestate reads the live objects of a render from the cluster, for the status of a
// trench in either mode.
package livestate

import (
	"context"
	"fmt"
	"reflect"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meridio-operator/meridio-operator/render"
)

// Get reads the live object of a rendered one through r, typed as it is; nil when it is
// absent.
func Get(ctx context.Context, r client.Reader, rendered client.Object) (client.Object, error) {
	live := reflect.New(reflect.TypeOf(rendered).Elem()).Interface().(client.Object)
	if err := r.Get(ctx, client.ObjectKeyFromObject(rendered), live); apierrors.IsNotFound(err) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("get %s: %w", render.ID(rendered), err)
	}
	return live, nil
}

// Read reads the live state of a rendered object through r, as a map; nil when it is absent.
func Read(ctx context.Context, r client.Reader, rendered client.Object) (map[string]any, error) {
	live, err := Get(ctx, r, rendered)
	if err != nil || live == nil {
		return nil, err
	}
	return AsMap(live)
}

// AsMap is obj as a map, converted unless it is one already.
func AsMap(obj client.Object) (map[string]any, error) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		return u.Object, nil
	}
	return runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
}
