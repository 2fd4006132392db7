package memo

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

// header is the exposition's lines for the gauge before its samples.
const header = `# HELP meridio_operator_memo_objects Objects whose writes the operator remembers, per trench; a deleted trench has no series.
# TYPE meridio_operator_memo_objects gauge
`

func TestMustRegister(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	var m Memo
	MustRegister(reg, "sink", &m)
	m.Record(Key("red", "a", "x"), "apply", "", "1", 1)
	m.Record(Key("red", "a", "y"), "apply", "", "1", 1)
	m.Record(Key("red", "b", "x"), "apply", "", "1", 1)
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(header+`meridio_operator_memo_objects{memo="sink",namespace="red",trench="a"} 2
meridio_operator_memo_objects{memo="sink",namespace="red",trench="b"} 1
`)))

	// A second memo of the same name replaces the first; one of another name is reported beside it.
	var second, other Memo
	MustRegister(reg, "sink", &second)
	MustRegister(reg, "reconciler", &other)
	second.Record(Key("blue", "c", "x"), "apply", "", "1", 1)
	other.Record(Key("blue", "c", "x"), "status", "", "1", 1)
	m.ForgetExcept(Key("red", "a", ""), nil)
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(header+`meridio_operator_memo_objects{memo="reconciler",namespace="blue",trench="c"} 1
meridio_operator_memo_objects{memo="sink",namespace="blue",trench="c"} 1
`)))
}
