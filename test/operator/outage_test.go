package operator

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meridiov1 "github.com/meridio-operator/meridio-operator/api/v1alpha1"
	"github.com/meridio-operator/meridio-operator/clustersink"
	"github.com/meridio-operator/meridio-operator/render"
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

	want := map[string]string{}
	edited := func(doc string) string {
		if strings.Contains(doc, "name: f-o1\n") {
			return strings.Replace(doc, `destination-ports: ["80"]`, `destination-ports: ["7777"]`, 1)
		}
		return doc
	}
	for _, r := range renders(t, ns, []string{"o1", "o2"}, edited) {
		for _, it := range r.Items {
			want[clustersink.ID(it.Object)] = it.Object.GetAnnotations()[render.AnnotationHash]
		}
	}
	require.EventuallyWithT(t, func(col *assert.CollectT) {
		got := map[string]string{}
		for _, l := range clustersink.ManagedLists() {
			require.NoError(col, c.List(ctx, l, client.InNamespace(ns)))
			items, err := clustersink.Items(l)
			require.NoError(col, err)
			for _, o := range items {
				got[clustersink.ID(o)] = o.GetAnnotations()[render.AnnotationHash]
			}
		}
		assert.Equal(col, want, got)
		f := &meridiov1.Flow{}
		require.NoError(col, c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "f-o1"}, f))
		assert.Equal(col, f.Generation, f.Status.ObservedGeneration, "the flow's status follows its last change")
	}, 2*time.Minute, 250*time.Millisecond, "converged after the outage; logs:\n%s", p.logs)
	assert.Nil(t, p.cmd.ProcessState, "the operator did not exit")
	assert.NotContains(t, p.logs.String(), "Server rejected event", "events fit the API server's limits")
	p.stop(t)
}
