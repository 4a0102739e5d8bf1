package dag

// Scope resolves a dotted reference path for templates and conditions.
//
// A path is split into segments: "steps.a.output.items[0].name" becomes
// ["steps", "a", "output", "items", "0", "name"]. The scope decides what the
// first segment means (parameters, pipeline_input, steps, a step id, result,
// or a key of the merged view) and walks the rest through maps and slices.
// found is false when any segment is missing; a present JSON null is found.
type Scope interface {
	Lookup(path []string) (value any, found bool)
}

// MapScope is a Scope over a plain JSON-like value, used by tests and by the
// transform step: the path is walked from the map's root.
type MapScope map[string]any

// Lookup walks path through m.
func (m MapScope) Lookup(path []string) (any, bool) {
	return Walk(map[string]any(m), path)
}

// Walk follows path through nested map[string]any and []any values. Numeric
// segments index slices; on maps they are ordinary keys.
func Walk(v any, path []string) (any, bool) {
	cur := v
	for _, seg := range path {
		switch c := cur.(type) {
		case map[string]any:
			next, ok := c[seg]
			if !ok {
				return nil, false
			}
			cur = next
		case []any:
			i, ok := index(seg)
			if !ok || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

func index(seg string) (int, bool) {
	if seg == "" || len(seg) > 9 {
		return 0, false
	}
	n := 0
	for _, r := range seg {
		if r < '0' || r > '9' {
			return 0, false
		}
		n = n*10 + int(r-'0')
	}
	return n, true
}
