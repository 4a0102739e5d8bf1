package dag

import (
	"sort"
	"time"
)

// Defaults used when a pipeline leaves a bound unset.
const (
	// DefaultMaxIterations bounds a loop whose pipeline sets no
	// loop_config.max_iterations (validation warns about it).
	DefaultMaxIterations = 100
	// DefaultStepBudget bounds the step executions of one run.
	DefaultStepBudget = 100_000
)

// Registry tells Compile which step classes exist (unknown classes are
// problems). pkg/steps.Registry satisfies it.
type Registry interface {
	Has(class string) bool
}

// CompileOptions tune Compile. The zero value is usable.
type CompileOptions struct {
	// Registry, when set, makes an unknown step_class a problem. Steps with a
	// module (Python steps) are exempt: they run through the exec shim.
	Registry Registry
	// Functions are the condition functions of type "function".
	Functions Functions
	// StepBudget caps step executions per run; 0: DefaultStepBudget.
	StepBudget int
}

// Graph is a compiled, validated pipeline: the immutable input of Decide.
// It is safe for concurrent use.
type Graph struct {
	Pipeline *Pipeline

	steps  []*node
	edges  []*edge
	loops  []*loop
	index  map[string]int
	start  int
	budget int
	// unreachable lists steps no path from start_at reaches.
	unreachable []int
	outputs     []namedTemplate
	rev         [][]int // every edge into each step
	// ancestorsOnly: see ReadsAncestorsOnly.
	ancestorsOnly bool
}

// ReadsAncestorsOnly reports whether every step's inputs and config, and
// every condition after a step, read nothing but the run's input and
// parameters and the outputs of the reader's ancestors (steps with a path to
// it). A step's inputs, and where the run goes after a step, are then fixed
// once its ancestors are done, whatever else the run does meanwhile: a
// decision taken again after it was lost starts the same tasks with the same
// inputs. A template that names a parallel branch reads whatever that branch
// has done by then, so it does not.
func (g *Graph) ReadsAncestorsOnly() bool { return g.ancestorsOnly }

// reaches reports whether a path of one or more edges leads from step
// from to step to.
func (g *Graph) reaches(from, to int) bool {
	seen := make([]bool, len(g.steps))
	stack := []int{from}
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, ei := range g.steps[v].out {
			w := g.edges[ei].to
			if w < 0 || seen[w] {
				continue
			}
			if w == to {
				return true
			}
			seen[w] = true
			stack = append(stack, w)
		}
	}
	return false
}

type node struct {
	step  *Step
	idx   int
	out   []int // edge indexes, document order
	in    []int // forward edges from reachable steps (join inputs)
	loops []int // loops whose body contains this node, innermost first
	// inputs and config are compiled templates.
	inputs    []namedTemplate
	config    any // config with templates parsed lazily via ResolveValue
	router    []*Condition
	policy    retryPolicy
	hasElse   bool
	reachable bool
}

type namedTemplate struct {
	name     string
	tmpl     *Template // nil: literal
	literal  any
	required bool
}

type edge struct {
	e      *Edge
	idx    int
	from   int
	to     int // -1 for an end marker
	fail   bool
	cond   *Condition
	back   bool
	isElse bool
	// deferLoop is the outermost loop this edge leaves (-1: none). An
	// untaken exit edge is not final until that loop's iteration is over.
	deferLoop int
}

type loop struct {
	id      string
	head    int
	body    []int
	inBody  map[int]bool
	backs   []int // back edge indexes
	maxIter int
	maxTime time.Duration
	delay   time.Duration
	exit    bool
}

// Step returns the index of step id and whether it exists.
func (g *Graph) stepIndex(id string) (int, bool) {
	i, ok := g.index[id]
	return i, ok
}

// StepIDs returns the step ids in document order.
func (g *Graph) StepIDs() []string {
	out := make([]string, len(g.steps))
	for i, n := range g.steps {
		out[i] = n.step.ID
	}
	return out
}

// Loops describes the loops found in the flow, for diagrams and tooling.
func (g *Graph) Loops() []LoopInfo {
	out := make([]LoopInfo, 0, len(g.loops))
	for _, l := range g.loops {
		li := LoopInfo{ID: l.id, Head: g.steps[l.head].step.ID, MaxIterations: l.maxIter}
		for _, b := range l.body {
			li.Body = append(li.Body, g.steps[b].step.ID)
		}
		for _, b := range l.backs {
			li.BackEdges = append(li.BackEdges, g.edges[b].e)
		}
		out = append(out, li)
	}
	return out
}

// LoopInfo describes one loop.
type LoopInfo struct {
	ID            string
	Head          string
	Body          []string
	BackEdges     []*Edge
	MaxIterations int
}

// IsBackEdge reports whether the i-th edge of the pipeline closes a loop.
func (g *Graph) IsBackEdge(i int) bool { return i >= 0 && i < len(g.edges) && g.edges[i].back }

// EdgeCondition returns the compiled condition of the i-th edge (nil: always).
func (g *Graph) EdgeCondition(i int) *Condition {
	if i < 0 || i >= len(g.edges) {
		return nil
	}
	return g.edges[i].cond
}

// analyse classifies edges (DFS from start: back edges close loops), finds
// loop bodies, reachability and join inputs. It is O(V+E) plus O(body) per
// back edge.
func (g *Graph) analyse() {
	n := len(g.steps)
	state := make([]uint8, n) // 0 new, 1 on stack, 2 done
	type frame struct{ v, next int }
	dfs := func(root int) {
		stack := []frame{{root, 0}}
		state[root] = 1
		for len(stack) > 0 {
			f := &stack[len(stack)-1]
			out := g.steps[f.v].out
			if f.next >= len(out) {
				state[f.v] = 2
				stack = stack[:len(stack)-1]
				continue
			}
			e := g.edges[out[f.next]]
			f.next++
			if e.to < 0 {
				continue
			}
			switch state[e.to] {
			case 0:
				state[e.to] = 1
				stack = append(stack, frame{e.to, 0})
			case 1:
				e.back = true
			}
		}
	}
	if g.start >= 0 {
		dfs(g.start)
	}
	for i := range g.steps {
		g.steps[i].reachable = state[i] != 0
		if state[i] == 0 {
			g.unreachable = append(g.unreachable, i)
		}
	}
	// Classify the unreachable part too, so validation can report its loops.
	for i := range g.steps {
		if state[i] == 0 {
			dfs(i)
		}
	}
	// Join inputs: forward edges from reachable steps.
	for _, e := range g.edges {
		if e.to >= 0 && !e.back && g.steps[e.from].reachable {
			g.steps[e.to].in = append(g.steps[e.to].in, e.idx)
		}
	}
	// Loops: one per head, the union of the natural loops of its back edges.
	byHead := map[int]*loop{}
	var heads []int
	for _, e := range g.edges {
		if !e.back {
			continue
		}
		l := byHead[e.to]
		if l == nil {
			l = &loop{head: e.to, inBody: map[int]bool{e.to: true}, id: "loop_" + g.steps[e.to].step.ID}
			byHead[e.to] = l
			heads = append(heads, e.to)
		}
		l.backs = append(l.backs, e.idx)
		// Natural loop: the head plus every node that reaches the back
		// edge's source without passing through the head.
		work := []int{e.from}
		for len(work) > 0 {
			v := work[len(work)-1]
			work = work[:len(work)-1]
			if l.inBody[v] {
				continue
			}
			l.inBody[v] = true
			for _, ie := range g.inAll(v) {
				if !l.inBody[g.edges[ie].from] {
					work = append(work, g.edges[ie].from)
				}
			}
		}
	}
	sort.Ints(heads)
	for _, h := range heads {
		l := byHead[h]
		for v := range l.inBody {
			l.body = append(l.body, v)
		}
		sort.Ints(l.body)
		g.loops = append(g.loops, l)
	}
	// Innermost first: smaller bodies first.
	order := make([]int, len(g.loops))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return len(g.loops[order[a]].body) < len(g.loops[order[b]].body) })
	for _, li := range order {
		for _, v := range g.loops[li].body {
			g.steps[v].loops = append(g.steps[v].loops, li)
		}
	}
	// Exit edges defer to the outermost loop they leave.
	for _, e := range g.edges {
		e.deferLoop = -1
		if e.back {
			continue
		}
		for _, li := range g.steps[e.from].loops {
			if e.to < 0 || !g.loops[li].inBody[e.to] {
				if e.deferLoop < 0 || len(g.loops[li].body) > len(g.loops[e.deferLoop].body) {
					e.deferLoop = li
				}
			}
		}
	}
}

// inAll lists every edge into v, back edges included.
func (g *Graph) inAll(v int) []int { return g.rev[v] }
