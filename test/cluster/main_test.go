// Package cluster tests cluster mode: the operator reconciling against a real API server, with
// the behaviours of the reference operator's end-to-end suite (SPEC §6) and more.
package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/clustersink"
	"github.com/meridio-operator/meridio-operator/controllers"
	"github.com/meridio-operator/meridio-operator/internal/localapi"
	"github.com/meridio-operator/meridio-operator/internal/testutil"
	"github.com/meridio-operator/meridio-operator/render"
)

// ns is the operator's namespace; otherNS is one it does not watch.
const (
	ns      = "meridio"
	otherNS = "elsewhere"
	timeout = 20 * time.Second
	tick    = 50 * time.Millisecond
)

var (
	env    *localapi.Env
	c      client.Client
	writes = &writeCounter{}
)

// writeCounter records the operator's write requests to the API server, and the writes that
// changed nothing: a response with the same resourceVersion as the last one for that path.
type writeCounter struct {
	mu     sync.Mutex
	writes []string
	noops  []string
	lastRV map[string]string
}

func (w *writeCounter) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		resp, err := rt.RoundTrip(req)
		if req.Method == http.MethodGet || err != nil {
			return resp, err
		}
		body, readErr := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		if readErr != nil {
			return resp, readErr
		}
		var obj struct {
			Metadata struct{ ResourceVersion string } `json:"metadata"`
		}
		_ = json.Unmarshal(body, &obj)
		w.mu.Lock()
		defer w.mu.Unlock()
		id := req.Method + " " + req.URL.Path
		w.writes = append(w.writes, id)
		if rv := obj.Metadata.ResourceVersion; rv != "" {
			if w.lastRV[req.URL.Path] == rv {
				w.noops = append(w.noops, id)
			}
			if w.lastRV == nil {
				w.lastRV = map[string]string{}
			}
			w.lastRV[req.URL.Path] = rv
		}
		return resp, nil
	})
}

// takeNoops returns the writes that changed nothing since the last call.
func (w *writeCounter) takeNoops() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.noops
	w.noops = nil
	return out
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// take returns the writes since the last take.
func (w *writeCounter) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.writes
	w.writes = nil
	return out
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	env, err = testutil.StartEnv(localapi.Options{
		ManagerOptions: func(o *ctrl.Options) {
			o.Cache = cache.Options{DefaultNamespaces: map[string]cache.Config{ns: {}}}
		},
		ManagerConfig: func(cfg *rest.Config) { cfg.WrapTransport = writes.wrap },
		Setup: func(mgr ctrl.Manager) error {
			return (&controllers.TrenchReconciler{
				Client:   mgr.GetClient(),
				Sink:     &clustersink.Sink{Client: mgr.GetClient()},
				Settings: render.DefaultSettings(),
				Recorder: mgr.GetEventRecorder("meridio-operator"),
			}).SetupWithManager(mgr)
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	c = env.Client
	for _, n := range []string{ns, otherNS} {
		if err := c.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return m.Run()
}

// cr builds a Meridio resource in YAML in the operator's namespace.
func cr(kind, name, trench, spec string) string {
	labels := ""
	if trench != "" {
		labels = fmt.Sprintf("\n  labels: {trench: %s}", trench)
	}
	return fmt.Sprintf("apiVersion: meridio.nordix.org/v1alpha1\nkind: %s\nmetadata:\n  name: %s\n  namespace: %s%s\nspec: %s\n", kind, name, ns, labels, spec)
}

// create creates YAML resources (namespace from the YAML).
func create(t *testing.T, docs ...string) {
	t.Helper()
	for _, d := range docs {
		o := testutil.MustDecode(t, d)
		require.NoError(t, c.Create(context.Background(), o), o.GetName())
	}
}

// trenchSet is a small complete trench: the trench, a conduit, an attractor, a gateway, a vip,
// a stream and a flow, every name suffixed with the trench name.
func trenchSet(tr string) []string {
	return []string{
		cr("Trench", tr, "", `{ip-family: dualstack}`),
		cr("Conduit", "c-"+tr, tr, `{}`),
		cr("Attractor", "a-"+tr, tr, fmt.Sprintf(`{composites: [c-%[1]s], gateways: [g-%[1]s], vips: [v-%[1]s], interface: {name: e, ipv4-prefix: 169.254.1.0/24, ipv6-prefix: "100::/64", nsm-vlan: {vlan-id: 10, base-interface: eth0}}}`, tr)),
		cr("Gateway", "g-"+tr, tr, `{address: 1.2.3.4, bgp: {remote-asn: 1, local-asn: 2, hold-time: 30s}}`),
		cr("Vip", "v-"+tr, tr, `{address: 20.0.0.1/32}`),
		cr("Stream", "s-"+tr, tr, fmt.Sprintf(`{conduit: c-%s}`, tr)),
		cr("Flow", "f-"+tr, tr, fmt.Sprintf(`{stream: s-%[1]s, vips: [v-%[1]s], protocols: [tcp], priority: 1, destination-ports: ["80"]}`, tr)),
	}
}

// key names an object of the operator's namespace.
func key(name string) client.ObjectKey { return client.ObjectKey{Namespace: ns, Name: name} }

// get reads an object, failing the test if it is absent.
func get[T client.Object](t require.TestingT, obj T, name string) T {
	require.NoError(t, c.Get(context.Background(), key(name), obj))
	return obj
}

// exists tells whether the object exists.
func exists(obj client.Object, name string) bool {
	return c.Get(context.Background(), key(name), obj) == nil
}

// eventually waits for cond with a readable failure.
func eventually(t *testing.T, cond func(c *assert.CollectT), msg string) {
	t.Helper()
	require.EventuallyWithT(t, cond, timeout, tick, msg)
}

// configItems decodes one list key of a trench ConfigMap into item names.
func configItems(cm *corev1.ConfigMap, key string) []string {
	var names []string
	for _, line := range strings.Split(cm.Data[key], "\n") {
		if strings.HasPrefix(line, "- name: ") {
			names = append(names, strings.TrimPrefix(line, "- name: "))
		}
	}
	return names
}

// requireCondition checks one condition of a resource, ignoring the transition time.
func requireCondition(c require.TestingT, obj meridiov1.Object, typ string, status metav1.ConditionStatus, reason string) {
	cond := apimeta.FindStatusCondition(obj.MeridioStatus().Conditions, typ)
	require.NotNil(c, cond, "%s has no %s condition: %v", obj.GetName(), typ, obj.MeridioStatus().Conditions)
	require.Equal(c, status, cond.Status, "%s %s: %s", obj.GetName(), typ, cond.Message)
	require.Equal(c, reason, cond.Reason, "%s %s: %s", obj.GetName(), typ, cond.Message)
	require.Equal(c, obj.GetGeneration(), obj.MeridioStatus().ObservedGeneration)
}
