// Package render computes every Kubernetes object a trench needs from a snapshot of its Meridio
// resources and the operator's settings. It is pure: no client, no clock, no randomness and no
// map-order dependence, so the same input always gives the same objects and the same bytes.
// Cluster mode applies the objects; git mode commits them as files (see Files).
package render
