package deploy

import (
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

const (
	timeout = 10 * time.Second
	tick    = 100 * time.Millisecond
)

func schemaGK(group, kind string) schema.GroupKind { return schema.GroupKind{Group: group, Kind: kind} }
