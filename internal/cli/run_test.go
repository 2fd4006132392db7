package cli

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"k8s.io/client-go/rest"
)

// The operator's client is limited by the flags, and asks for uncompressed responses (see
// restConfig).
func TestRestConfig(t *testing.T) {
	cfg := &rest.Config{}
	runOptions{qps: 70, burst: 140}.restConfig(cfg)
	assert.Equal(t, float32(70), cfg.QPS)
	assert.Equal(t, 140, cfg.Burst)
	assert.True(t, cfg.DisableCompression)
}
