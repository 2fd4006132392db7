// Package admission tests the CRD schemas and admission webhooks against a real API server.
package admission

import (
	"fmt"
	"os"
	"testing"

	"github.com/meridio-operator/meridio-operator/internal/localapi"
	"github.com/meridio-operator/meridio-operator/internal/testutil"
)

var (
	// env serves every webhook, the mutating Gateway webhook included.
	env *localapi.Env
	// plainEnv serves the validating webhooks only (ENABLE_MUTATING_WEBHOOK=false).
	plainEnv *localapi.Env
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	if env, err = testutil.StartEnv(localapi.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	if plainEnv, err = testutil.StartEnv(localapi.Options{NoMutatingWebhook: true}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = plainEnv.Stop() }()
	return m.Run()
}
