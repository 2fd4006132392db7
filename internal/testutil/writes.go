package testutil

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sync"
)

// WriteCounter records the write requests a client sends to the API server, and the writes
// that changed nothing: a response with the same resourceVersion as the last one for that path.
// Install it with rest.Config.WrapTransport = counter.Wrap.
type WriteCounter struct {
	mu     sync.Mutex
	writes []string
	noops  []string
	lastRV map[string]string
}

// Wrap wraps a transport so that its writes are counted.
func (w *WriteCounter) Wrap(rt http.RoundTripper) http.RoundTripper {
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
			Metadata struct{ Name, ResourceVersion string } `json:"metadata"`
		}
		_ = json.Unmarshal(body, &obj)
		w.mu.Lock()
		defer w.mu.Unlock()
		path := req.URL.Path
		if req.Method == http.MethodPost && obj.Metadata.Name != "" {
			path += "/" + obj.Metadata.Name // a create names the object's path, as later writes do
		}
		id := req.Method + " " + path
		w.writes = append(w.writes, id)
		if rv := obj.Metadata.ResourceVersion; rv != "" {
			if w.lastRV[path] == rv {
				w.noops = append(w.noops, id)
			}
			if w.lastRV == nil {
				w.lastRV = map[string]string{}
			}
			w.lastRV[path] = rv
		}
		return resp, nil
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

// RoundTrip calls f.
func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// Take returns the writes ("METHOD /path", a create with the created object's path) since the
// last call.
func (w *WriteCounter) Take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.writes
	w.writes = nil
	return out
}

// TakeNoops returns the writes that changed nothing since the last call.
func (w *WriteCounter) TakeNoops() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.noops
	w.noops = nil
	return out
}
