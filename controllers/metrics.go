package controllers

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	objectsApplied = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "meridio_operator_objects_applied_total",
		Help: "Rendered objects written to the cluster, per trench.",
	}, []string{"namespace", "trench"})
	objectsPruned = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "meridio_operator_objects_pruned_total",
		Help: "Objects deleted because they are no longer rendered, per trench.",
	}, []string{"namespace", "trench"})
	renderDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "meridio_operator_render_duration_seconds",
		Help:    "Time to render the workload set of one trench.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 12),
	})
	reconcileDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "meridio_operator_reconcile_duration_seconds",
		Help:    "Time of one trench reconcile, from reading the snapshot to writing the status.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 14),
	}, []string{"namespace", "trench"})
)

var (
	commitToApplied = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "meridio_operator_commit_to_applied_seconds",
		Help:    "Seconds from a trench's render being committed to every live object carrying it (git mode).",
		Buckets: prometheus.ExponentialBuckets(0.5, 2, 12),
	}, []string{"namespace", "trench"})
	appliedToHealthy = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "meridio_operator_applied_to_healthy_seconds",
		Help:    "Seconds from a trench's render being applied to every live object being ready.",
		Buckets: prometheus.ExponentialBuckets(0.5, 2, 12),
	}, []string{"namespace", "trench"})
)

func init() {
	metrics.Registry.MustRegister(objectsApplied, objectsPruned, renderDuration, reconcileDuration, commitToApplied, appliedToHealthy)
}
