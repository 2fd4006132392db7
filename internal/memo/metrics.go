package memo

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// Key names an object's writes in a memo, grouped by the trench the object belongs to (id "":
// the prefix of the trench's group).
func Key(namespace, trench, id string) string { return namespace + "/" + trench + "/" + id }

// objectsDesc describes the gauge of how many objects a memo holds per trench.
func objectsDesc(name string) *prometheus.Desc {
	return prometheus.NewDesc("meridio_operator_memo_objects",
		"Objects whose writes the operator remembers, per trench; a deleted trench has no series.",
		[]string{"namespace", "trench"}, prometheus.Labels{"memo": name})
}

// collector reports a memo's size per trench at each scrape, so that a deleted trench leaves
// no series behind.
type collector struct {
	desc *prometheus.Desc
	m    *Memo
}

func (c collector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c collector) Collect(ch chan<- prometheus.Metric) {
	for group, n := range c.m.perTrench() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), group[0], group[1])
	}
}

// perTrench counts the remembered objects by the namespace and trench of their Key.
func (m *Memo) perTrench() map[[2]string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[[2]string]int{}
	for k := range m.m {
		parts := strings.SplitN(k, "/", 3)
		if len(parts) == 3 {
			out[[2]string{parts[0], parts[1]}]++
		}
	}
	return out
}

// MustRegister reports m in reg as meridio_operator_memo_objects{memo=name}. A memo registered
// under the same name before is replaced: a process runs one reconciler and one sink, and a
// test that builds a second one reads the second.
func MustRegister(reg prometheus.Registerer, name string, m *Memo) {
	c := collector{desc: objectsDesc(name), m: m}
	reg.Unregister(c)
	reg.MustRegister(c)
}
