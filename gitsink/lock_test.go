package gitsink

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// holdingProxy forwards to a Git HTTP server, holding each push (a receive-pack POST) while
// hold is set, as a slow remote would, until release is closed.
type holdingProxy struct {
	hold    atomic.Bool
	arrived chan struct{}
	release chan struct{}
}

func newHoldingProxy(t *testing.T, target string) (*holdingProxy, string) {
	t.Helper()
	u, err := url.Parse(target)
	require.NoError(t, err)
	p := &holdingProxy{arrived: make(chan struct{}, 16), release: make(chan struct{})}
	fwd := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-receive-pack") && p.hold.Load() {
			p.arrived <- struct{}{}
			<-p.release
		}
		fwd.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return p, srv.URL
}

// Test_Sink_readsDoNotWaitForAPush: while a push hangs on a slow remote, the reconciles of
// other trenches (and of the one being pushed) are answered from the clone: none waits for the
// network.
func Test_Sink_readsDoNotWaitForAPush(t *testing.T) {
	srv := newServer(t)
	r := newRemote(t, srv, "http", "held.git")
	proxy, addr := newHoldingProxy(t, srv.HTTPAddress())
	r.url = addr + "/held.git"
	s := startSink(t, r, "")
	results := examples(t)
	require.GreaterOrEqual(t, len(results), 3)
	s.deliverAll(t, results[0])

	proxy.hold.Store(true)
	_, _ = s.Deliver(s.ctx, results[1])
	select {
	case <-proxy.arrived:
	case <-time.After(20 * time.Second):
		t.Fatal("the push of the second trench never reached the remote")
	}
	answered := make(chan error, 1)
	changed := *results[0]
	changed.Items = slices.Clone(changed.Items)
	cm := changed.Items[0].Object.DeepCopyObject().(client.Object)
	cm.SetAnnotations(map[string]string{"edited": "yes"})
	changed.Items[0].Object = cm
	go func() {
		_, err := s.Deliver(s.ctx, results[2]) // another trench
		if err == nil {
			_, err = s.Deliver(s.ctx, &changed) // a change of a trench already pushed
		}
		if err == nil {
			_, err = s.Trenches(s.ctx) // the reconciler's list of what the branch holds
		}
		answered <- err
	}()
	select {
	case err := <-answered:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		close(proxy.release)
		t.Fatal("a reconcile waited for the push held by the remote")
	}
	proxy.hold.Store(false)
	close(proxy.release)
	s.deliverAll(t, results...)
}
