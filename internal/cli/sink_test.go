package cli

import (
	"context"
	"encoding/pem"
	"maps"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Test_forgeSecret: a forge call reads the Git Secret once, for its token, and its requests trust
// that read's ca.crt; a rotated Secret is used from the next call.
func Test_forgeSecret(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	defer srv.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	data := map[string][]byte{"password": []byte("one")}
	reads := 0
	now := time.Unix(0, 0)
	secret := &forgeSecret{read: func(context.Context) (map[string][]byte, error) {
		reads++
		return maps.Clone(data), nil
	}, now: func() time.Time { return now }}
	hc := &http.Client{Transport: secret}
	ctx := context.Background()
	call := func() error {
		if _, err := secret.token(ctx); err != nil {
			return err
		}
		for range 2 { // a call of two requests
			resp, err := hc.Get(srv.URL)
			if err != nil {
				return err
			}
			_ = resp.Body.Close()
		}
		return nil
	}

	err := call()
	require.Error(t, err, "without ca.crt the server's certificate is not trusted")
	assert.Contains(t, err.Error(), "certificate")

	data["ca.crt"], data["bearerToken"] = ca, []byte("two") // the Secret rotated: the next call uses it
	reads = 0
	require.NoError(t, call())
	assert.Equal(t, 1, reads, "one read of the Secret per call")
	tok, err := secret.token(ctx)
	require.NoError(t, err)
	assert.Equal(t, "two", tok, "bearerToken before password")

	data["tls.crt"] = []byte("half a pair")
	now = now.Add(callWindow) // requests long after the last call's read read again
	_, err = hc.Get(srv.URL)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "git secret: the secret has tls.crt but no tls.key")
}
