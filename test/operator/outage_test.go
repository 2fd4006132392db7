package operator

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/internal/testutil"
)

// cutter is a TCP proxy to the API server that can be cut: to the operator behind it, the API
// server is gone (connections reset, new ones refused) until it is restored.
type cutter struct {
	target string
	addr   string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func newCutter(t *testing.T, target string) *cutter {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	c := &cutter{target: target, addr: ln.Addr().String()}
	c.serve(ln)
	t.Cleanup(c.cut)
	return c
}

func (c *cutter) serve(ln net.Listener) {
	c.mu.Lock()
	c.ln = ln
	c.mu.Unlock()
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", c.target)
			if err != nil {
				in.Close()
				continue
			}
			c.mu.Lock()
			c.conns = append(c.conns, in, out)
			c.mu.Unlock()
			go func() { _, _ = io.Copy(out, in); out.Close() }()
			go func() { _, _ = io.Copy(in, out); in.Close() }()
		}
	}()
}

// cut closes the listener and every connection.
func (c *cutter) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ln != nil {
		c.ln.Close()
		c.ln = nil
	}
	for _, conn := range c.conns {
		conn.Close()
	}
	c.conns = nil
}

// restore listens on the same address again.
func (c *cutter) restore(t *testing.T) {
	ln, err := net.Listen("tcp", c.addr)
	require.NoError(t, err)
	c.serve(ln)
}

// TestRun_apiServerOutage cuts the operator off the API server for 20 s while resources are
// changed and created, then restores it: the same operator process resumes, converges to the
// resources, and leaves no object that no render names.
func TestRun_apiServerOutage(t *testing.T) {
	ctx := context.Background()
	c := env.Client
	ns := "outage"
	namespaceAndKubeconfig(t, ns)

	cfg, err := clientcmd.Load(env.KubeConfig)
	require.NoError(t, err)
	var target string
	for _, cl := range cfg.Clusters {
		u := cl.Server
		target = u[len("https://"):]
		cl.Server = "" // set below
	}
	proxy := newCutter(t, target)
	for _, cl := range cfg.Clusters {
		cl.Server = "https://" + proxy.addr
	}
	data, err := clientcmd.Write(*cfg)
	require.NoError(t, err)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, os.WriteFile(kubeconfig, data, 0o600))

	p := startBinary(t, kubeconfig, nil, "--namespace", ns)
	createSets(t, ns, []string{"o1"})
	cm := &corev1.ConfigMap{}
	require.EventuallyWithT(t, func(col *assert.CollectT) {
		require.NoError(col, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "meridio-configuration-o1"}, cm))
	}, 30*time.Second, 100*time.Millisecond)

	proxy.cut()
	setFlowPorts(t, ns, "f-o1", "7777")
	createSets(t, ns, []string{"o2"})
	time.Sleep(20 * time.Second)
	proxy.restore(t)

	requireConverged(t, p, ns, []string{"o1", "o2"}, 2*time.Minute, portsOf("f-o1", "7777"))
	f := &meridiov1.Flow{}
	require.NoError(t, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "f-o1"}, f))
	assert.Equal(t, f.Generation, f.Status.ObservedGeneration, "the flow's status follows its last change")
	assert.Nil(t, p.cmd.ProcessState, "the operator did not exit")
	assert.NotContains(t, p.logs.String(), "Server rejected event", "events fit the API server's limits")
	p.stop(t)
}

// TestRun_apiServerRestart stops the API server for 20 s (etcd stays) while the operator is
// in the middle of a burst of new trenches, starts it again on the same address, and changes
// a Flow: the same operator process resumes, converges every object and every status, and
// leaves no object that no render names.
func TestRun_apiServerRestart(t *testing.T) {
	ctx := context.Background()
	c := env.Client
	ns := "restart"
	kubeconfig := namespaceAndKubeconfig(t, ns)
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	p := startBinary(t, kubeconfig, nil, "--namespace", ns, "--metrics-bind-address", metricsAddr)
	createSets(t, ns, []string{"r0"})
	requireConverged(t, p, ns, []string{"r0"}, 30*time.Second)
	// Nothing can be written to the API server while it is down: the outage shows, while it
	// lasts, in the metrics a monitoring system scrapes from the pod itself.
	failedRequests := func() float64 {
		resp, err := http.Get("http://" + metricsAddr + "/metrics")
		if !assert.NoError(t, err) {
			return 0
		}
		defer resp.Body.Close()
		parser := expfmt.NewTextParser(model.UTF8Validation)
		families, err := parser.TextToMetricFamilies(resp.Body)
		assert.NoError(t, err)
		n := 0.0
		for _, m := range families["rest_client_requests_total"].GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "code" && l.GetValue() == "<error>" {
					n += m.GetCounter().GetValue()
				}
			}
		}
		return n
	}
	before := failedRequests()

	burst := names("r", 1, 6)
	createSets(t, ns, burst)
	// The other tests need the API server, whatever happens here (it refuses a second start).
	t.Cleanup(func() { _ = env.StartAPIServer() })
	require.NoError(t, env.StopAPIServer())
	stopped := time.Now()
	time.Sleep(10 * time.Second)
	during := failedRequests()
	assert.Greater(t, during, before, "requests that found no API server, counted while it is down")
	time.Sleep(10 * time.Second)
	require.NoError(t, env.StartAPIServer(), "the other tests need it")
	t.Logf("API server down for %v", time.Since(stopped).Round(time.Second))
	setFlowPorts(t, ns, "f-r0", "7777")

	all := append([]string{"r0"}, burst...)
	restarted := time.Now()
	requireConverged(t, p, ns, all, 2*time.Minute, portsOf("f-r0", "7777"))
	t.Logf("objects converged %v after the restart", time.Since(restarted).Round(100*time.Millisecond))
	require.EventuallyWithT(t, func(col *assert.CollectT) {
		for _, l := range meridioLists() {
			require.NoError(col, c.List(ctx, l, client.InNamespace(ns)))
			require.NoError(col, apimeta.EachListItem(l, func(o runtime.Object) error {
				m := o.(meridiov1.Object)
				assert.Equal(col, m.GetGeneration(), m.MeridioStatus().ObservedGeneration, "%T %s: status follows the last change", o, m.GetName())
				return nil
			}))
		}
	}, time.Minute, 250*time.Millisecond, "statuses; logs:\n%s", p.logs)
	t.Logf("statuses converged %v after the restart", time.Since(restarted).Round(100*time.Millisecond))
	var evs eventsv1.EventList
	require.NoError(t, c.List(ctx, &evs, client.InNamespace(ns)))
	for _, e := range evs.Items {
		if e.Type == corev1.EventTypeWarning {
			t.Logf("event %s %s/%s: %s", e.Reason, e.Regarding.Kind, e.Regarding.Name, e.Note)
		}
	}
	assert.Nil(t, p.cmd.ProcessState, "the operator did not exit")
	p.stop(t)
}
