// Package config embeds the generated CRDs and webhook configurations, so that the binary can
// install them into an embedded API server (`run --local`) without the source tree.
package config

import "embed"

// Manifests holds crd/bases/*.yaml, webhook/manifests.yaml and policy/*.yaml.
//
//go:embed crd/bases/*.yaml webhook/manifests.yaml policy/*.yaml
var Manifests embed.FS
