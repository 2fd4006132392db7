// Package config embeds the generated CRDs and webhook configurations, so that the binary can
// install them into an embedded API server (`run --local`) without the source tree, and the
// kustomize bases, so that `meridio-operator deploy` builds them without it either.
package config

import "embed"

// Manifests holds crd/bases/*.yaml, webhook/manifests.yaml and policy/*.yaml.
//
//go:embed crd/bases/*.yaml webhook/manifests.yaml policy/*.yaml
var Manifests embed.FS

// Bases holds every kustomize directory of config/ and the samples.
//
//go:embed certmanager components crd default git git-verify manager metrics-auth no-mutating-webhook policy rbac samples spire webhook
var Bases embed.FS
