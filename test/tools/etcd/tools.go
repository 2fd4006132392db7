//go:build tools

// Package tools pins etcd so that `go build` can build it from the module proxy.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
)
