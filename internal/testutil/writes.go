package testutil

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/serializer"

	"github.com/meridio-operator/meridio-operator/internal/localapi"
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
		name, rv := nameAndVersion(body)
		w.mu.Lock()
		defer w.mu.Unlock()
		path := req.URL.Path
		if req.Method == http.MethodPost && name != "" {
			path += "/" + name // a create names the object's path, as later writes do
		}
		id := req.Method + " " + path
		w.writes = append(w.writes, id)
		if rv != "" {
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

// deserializer reads responses in JSON or protobuf (which clients use for built-in kinds).
var deserializer = serializer.NewCodecFactory(localapi.Scheme()).UniversalDeserializer()

// nameAndVersion reads the name and resourceVersion of the object a response holds.
func nameAndVersion(body []byte) (name, rv string) {
	if obj, _, err := deserializer.Decode(body, nil, nil); err == nil {
		if m, err := meta.Accessor(obj); err == nil {
			return m.GetName(), m.GetResourceVersion()
		}
	}
	var obj struct {
		Metadata struct{ Name, ResourceVersion string } `json:"metadata"`
	}
	_ = json.Unmarshal(body, &obj)
	return obj.Metadata.Name, obj.Metadata.ResourceVersion
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
