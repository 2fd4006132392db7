//go:build tools

// Package tools pins kube-apiserver so that `go build` can build it from the module proxy.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
