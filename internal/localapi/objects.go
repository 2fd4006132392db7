package localapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// DecodeYAML splits multi-document YAML into objects, skipping empty documents.
func DecodeYAML(data []byte) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
			return objs, nil
		} else if err != nil {
			return nil, err
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
}

// ApplyFile creates every object of a YAML file in namespace, in file order.
func ApplyFile(ctx context.Context, c client.Client, path, namespace string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	objs, err := DecodeYAML(data)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for _, o := range objs {
		o.SetNamespace(namespace)
		if err := c.Create(ctx, o); err != nil {
			return fmt.Errorf("%s: create %s %s: %w", path, o.GetKind(), o.GetName(), err)
		}
	}
	return nil
}
