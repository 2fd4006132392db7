// Package e2e is the behaviour suite of `make e2e`: it drives an operator through the API server
// only, as a user with kubectl would. With E2E=1 it runs against the operator already deployed
// in the cluster of the current kubeconfig (make deploy), in namespace NAMESPACE; in git mode
// (E2E_GIT_URL, E2E_GIT_PATH: the operator's --git-url and --git-path) it reads the rendered
// workloads in the repository instead of the cluster. Without E2E, as part of make test, it
// starts an embedded API server with the operator and its webhooks in cluster mode.
package e2e

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meridio-operator/meridio-operator/clustersink"
	"github.com/meridio-operator/meridio-operator/controllers"
	"github.com/meridio-operator/meridio-operator/internal/localapi"
	"github.com/meridio-operator/meridio-operator/internal/scheme"
	"github.com/meridio-operator/meridio-operator/internal/testutil"
	"github.com/meridio-operator/meridio-operator/render"
)

var (
	// c reaches the cluster the operator watches; ns is its namespace.
	c  client.Client
	ns string
	// gitURL and gitPath are the repository of an operator in git mode ("": cluster mode).
	gitURL, gitPath string
	// timeout bounds each wait: a real cluster (image pulls aside) is slower than the embedded one.
	timeout = 30 * time.Second
)

func TestMain(m *testing.M) {
	if os.Getenv("E2E") == "1" {
		os.Exit(againstCluster(m))
	}
	ns = "e2e"
	os.Exit(testutil.Run(m, func(e ...*localapi.Env) error {
		c = e[0].Client
		return c.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	}, localapi.Options{Setup: func(mgr ctrl.Manager) error {
		return controllers.Setup(mgr, clustersink.New(mgr), controllers.Options{Settings: render.DefaultSettings(), Namespace: ns})
	}}))
}

// againstCluster runs the suite against the operator deployed in the current kubeconfig's
// cluster.
func againstCluster(m *testing.M) int {
	ns = os.Getenv("NAMESPACE")
	if ns == "" {
		fmt.Fprintln(os.Stderr, "e2e: set NAMESPACE to the namespace of the deployed operator (make e2e NAMESPACE=...)")
		return 2
	}
	gitURL, gitPath = os.Getenv("E2E_GIT_URL"), os.Getenv("E2E_GIT_PATH")
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(clientcmd.NewDefaultClientConfigLoadingRules(), &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: kubeconfig:", err)
		return 2
	}
	if c, err = client.New(cfg, client.Options{Scheme: scheme.New()}); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 2
	}
	timeout = 2 * time.Minute
	return m.Run()
}
