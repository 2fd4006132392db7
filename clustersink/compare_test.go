package clustersink

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func Test_covers(t *testing.T) {
	for _, tc := range []struct {
		name          string
		desired, live string
		want          bool
	}{
		{"equal", `{"a":1,"b":"x"}`, `{"a":1,"b":"x"}`, true},
		{"server defaults and other owners' fields", `{"a":1}`, `{"a":1,"defaulted":true}`, true},
		{"changed value", `{"a":1}`, `{"a":2}`, false},
		{"missing field", `{"a":1,"b":2}`, `{"a":1}`, false},
		{"null means don't care", `{"a":null}`, `{}`, true},
		{"nested", `{"spec":{"replicas":2}}`, `{"spec":{"replicas":2,"paused":false}}`, true},
		{"list items covered in order", `{"c":[{"name":"x"},{"name":"y"}]}`, `{"c":[{"name":"x","tp":"/dev"},{"name":"y"}]}`, true},
		{"list with an item appended by someone else", `{"c":[{"name":"x"}]}`, `{"c":[{"name":"x"},{"name":"sidecar"}]}`, true},
		{"list item missing", `{"c":[{"name":"x"},{"name":"y"}]}`, `{"c":[{"name":"x"}]}`, false},
		{"list reordered", `{"c":["a","b"]}`, `{"c":["b","a"]}`, false},
		{"empty map against absent", `{"m":{}}`, `{}`, true},
		{"empty list against absent", `{"l":[]}`, `{}`, true},
		{"map against scalar", `{"m":{"a":1}}`, `{"m":"x"}`, false},
		{"numbers of different Go types", `{"n":1.0}`, `{"n":1}`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d, l any
			var err error
			d, err = normalize(mustJSON(t, tc.desired))
			require.NoError(t, err)
			l, err = normalize(mustJSON(t, tc.live))
			require.NoError(t, err)
			assert.Equal(t, tc.want, covers(d, l))
		})
	}
}

func mustJSON(t *testing.T, s string) any {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal([]byte(s), &v))
	return v
}
