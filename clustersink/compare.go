package clustersink

import (
	"encoding/json"
	"reflect"
)

// normalize round-trips v through JSON so that numbers compare as numbers whatever their Go type.
func normalize(v any) (any, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	return out, json.Unmarshal(data, &out)
}

// covers tells whether live holds every value of desired. Maps may hold more keys; lists must
// start with desired's items, each covered; a null desired value means "don't care". This is
// what a server-side apply of desired would leave unchanged: API-server defaults and fields
// owned by others do not count as drift.
func covers(desired, live any) bool {
	switch d := desired.(type) {
	case nil:
		return true
	case map[string]any:
		l, ok := live.(map[string]any)
		if !ok {
			return len(d) == 0 && live == nil
		}
		for k, dv := range d {
			if !covers(dv, l[k]) {
				return false
			}
		}
		return true
	case []any:
		l, ok := live.([]any)
		if !ok {
			return len(d) == 0 && live == nil
		}
		if len(l) < len(d) {
			return false
		}
		for i := range d {
			if !covers(d[i], l[i]) {
				return false
			}
		}
		return true
	default:
		return reflect.DeepEqual(desired, live)
	}
}
