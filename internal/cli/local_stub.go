//go:build nolocal

package cli

import (
	"context"
	"errors"
	"io"

	"github.com/meridio-operator/meridio-operator/render"
)

// localLogFile is unused: this binary has no --local.
func localLogFile() string { return "" }

// runLocal is not built into this binary (the container image's, built with -tags nolocal),
// which keeps the embedded API server's harness out of it.
func runLocal(context.Context, runOptions, render.Settings, io.Writer) error {
	return errors.New("--local is not built into this binary (built with -tags nolocal); use bin/meridio-operator from `make build`")
}
