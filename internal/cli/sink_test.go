package cli

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Test_secretTransport: the forge's API calls trust the Git Secret's ca.crt, read at each call.
func Test_secretTransport(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer srv.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	data := map[string][]byte{}
	hc := &http.Client{Transport: secretTransport{read: func(context.Context) (map[string][]byte, error) { return data, nil }}}

	_, err := hc.Get(srv.URL)
	require.Error(t, err, "without ca.crt the server's certificate is not trusted")
	assert.Contains(t, err.Error(), "certificate")

	data["ca.crt"] = ca // the Secret rotated: the next call uses it
	resp, err := hc.Get(srv.URL)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	data["tls.crt"] = []byte("half a pair")
	_, err = hc.Get(srv.URL)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "git secret: the secret has tls.crt but no tls.key")
}
