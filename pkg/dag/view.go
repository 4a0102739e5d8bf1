package dag

import "maps"

// flattenDepth bounds how many layers a view stacks before it is copied
// into one map: lookups stay O(flattenDepth) while a long chain copies its
// view once every flattenDepth steps instead of at every step.
const flattenDepth = 32

// view is an immutable merged view (the reference's blackboard): a layer of
// keys over a parent view. A step's view shares its predecessor's instead of
// copying it, so deciding a step does not cost the size of everything that
// ran before it.
type view struct {
	parent *view
	layer  map[string]any
	// flat holds the complete contents when set; parent and layer are then
	// unused.
	flat  map[string]any
	depth int
}

func flatView(m map[string]any) *view { return &view{flat: m} }

// over lays layer over v.
func (v *view) over(layer map[string]any) *view {
	if len(layer) == 0 {
		return v
	}
	n := &view{parent: v, layer: layer}
	if v != nil {
		n.depth = v.depth + 1
	}
	if n.depth >= flattenDepth {
		return flatView(n.Map())
	}
	return n
}

// get returns the value of key k.
func (v *view) get(k string) (any, bool) {
	for x := v; x != nil; x = x.parent {
		if x.flat != nil {
			val, ok := x.flat[k]
			return val, ok
		}
		if val, ok := x.layer[k]; ok {
			return val, true
		}
	}
	return nil, false
}

// Map materializes the view into a new map the caller owns.
func (v *view) Map() map[string]any {
	var layers []map[string]any
	x := v
	for ; x != nil && x.flat == nil; x = x.parent {
		layers = append(layers, x.layer)
	}
	size := 0
	if x != nil {
		size = len(x.flat)
	}
	for _, l := range layers {
		size += len(l)
	}
	m := make(map[string]any, size)
	if x != nil {
		maps.Copy(m, x.flat)
	}
	for i := len(layers) - 1; i >= 0; i-- {
		maps.Copy(m, layers[i])
	}
	return m
}

// lookup walks path through the view.
func (v *view) lookup(path []string) (any, bool) {
	if len(path) == 0 {
		return nil, false
	}
	val, ok := v.get(path[0])
	if !ok {
		return nil, false
	}
	return walkAny(val, path[1:])
}

// mergeViews joins branch views: the first branch's whole view, then each
// later branch's own layers down to where it meets a view already merged.
// Shared ancestry is applied once, so a branch that did not touch a key does
// not revert another branch's change to it, and a join of n branches costs
// their own layers, not n copies of everything before the fork.
func mergeViews(views []*view) *view {
	seen := make(map[*view]bool)
	merged := make(map[string]any)
	for _, v := range views {
		var layers []map[string]any
		var base map[string]any
		for x := v; x != nil && !seen[x]; x = x.parent {
			seen[x] = true
			if x.flat != nil {
				base = x.flat
				break
			}
			layers = append(layers, x.layer)
		}
		maps.Copy(merged, base)
		for i := len(layers) - 1; i >= 0; i-- {
			maps.Copy(merged, layers[i])
		}
	}
	return flatView(merged)
}
