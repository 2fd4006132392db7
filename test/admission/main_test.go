// Package admission tests the CRD schemas, admission policies and webhooks against a real API
// server.
package admission

import (
	"os"
	"testing"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/meridio-operator/meridio-operator/clustersink"
	"github.com/meridio-operator/meridio-operator/controllers"
	"github.com/meridio-operator/meridio-operator/internal/localapi"
	"github.com/meridio-operator/meridio-operator/internal/testutil"
	"github.com/meridio-operator/meridio-operator/render"
)

var (
	// env serves every webhook, the mutating Gateway webhook included.
	env *localapi.Env
	// plainEnv serves the validating webhooks only (ENABLE_MUTATING_WEBHOOK=false).
	plainEnv *localapi.Env
	// bareEnv has no webhook at all: the CRD schemas and admission policies alone. The
	// operator runs there (cluster mode), to show what it does with what gets in.
	bareEnv *localapi.Env
)

func TestMain(m *testing.M) {
	os.Exit(testutil.Run(m, func(e ...*localapi.Env) error {
		env, plainEnv, bareEnv = e[0], e[1], e[2]
		return nil
	}, localapi.Options{}, localapi.Options{NoMutatingWebhook: true}, localapi.Options{NoWebhooks: true, Setup: func(mgr ctrl.Manager) error {
		return controllers.Setup(mgr, clustersink.New(mgr), controllers.Options{Settings: render.DefaultSettings()})
	}}))
}
