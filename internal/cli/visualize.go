package cli

import (
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ia-modules/ia-go/pkg/dag"
)

func newVisualizeCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "visualize FILE [--format mermaid|dot]",
		Short: "Draw a pipeline as a Mermaid or Graphviz diagram",
		Long: "visualize prints the pipeline's flow. Edges carry their condition; loop back edges\n" +
			"are dotted and labelled with their iteration bound; end markers are terminal nodes.\n" +
			"Routers are diamonds and human_input steps parallelograms.",
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, files []string) error {
			render, ok := renderers[format]
			if !ok {
				return usageError(fmt.Errorf("--format %q: want mermaid or dot", format))
			}
			data, err := os.ReadFile(files[0])
			if err != nil {
				return err
			}
			g, probs := dag.Load(files[0], data, nil)
			if g == nil {
				for _, p := range probs {
					fmt.Fprintln(cmd.ErrOrStderr(), p.String())
				}
				return &ExitError{Code: ExitInvalid}
			}
			var b strings.Builder
			render(&b, newDiagram(g))
			_, err = io.WriteString(cmd.OutOrStdout(), b.String())
			return err
		},
	}
	cmd.Flags().StringVar(&format, "format", "mermaid", "diagram language: mermaid or dot")
	return cmd
}

var renderers = map[string]func(*strings.Builder, *diagram){
	"mermaid": renderMermaid,
	"dot":     renderDot,
}

// diagram is the renderer-neutral view of a compiled pipeline.
type diagram struct {
	name  string
	nodes []diagramNode
	edges []diagramEdge
}

type diagramNode struct {
	id, label string
	// kind is "task", "human_input", "router" or "end".
	kind string
}

type diagramEdge struct {
	from, to, label string
	back            bool
}

func newDiagram(g *dag.Graph) *diagram {
	p := g.Pipeline
	d := &diagram{name: p.Name}
	for _, s := range p.Steps {
		kind, detail := "task", s.Class
		switch s.Type {
		case dag.StepHumanInput:
			kind = "human_input"
		case dag.StepRouter:
			kind = "router"
		}
		if detail == "" {
			detail = s.Module
		}
		if detail == "" {
			detail = kind
		}
		d.nodes = append(d.nodes, diagramNode{id: s.ID, label: s.ID + "\n" + detail, kind: kind})
	}
	// A back edge's bound is its loop's, which Loops knows by edge.
	maxIter := map[*dag.Edge]int{}
	for _, l := range g.Loops() {
		for _, e := range l.BackEdges {
			maxIter[e] = l.MaxIterations
		}
	}
	ends := map[string]bool{}
	for i, e := range p.Edges {
		label := ""
		if c := g.EdgeCondition(i); c != nil {
			label = c.String()
		}
		back := g.IsBackEdge(i)
		if back {
			loop := fmt.Sprintf("loop (max %d)", maxIter[e])
			if label != "" {
				loop += ": " + label
			}
			label = loop
		}
		if dag.IsEndTarget(e.To) && !ends[e.To] {
			ends[e.To] = true
			d.nodes = append(d.nodes, diagramNode{id: e.To, label: e.To, kind: "end"})
		}
		d.edges = append(d.edges, diagramEdge{from: e.From, to: e.To, label: label, back: back})
	}
	return d
}

var mermaidSafeID = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// mermaidKeywords cannot be node ids ("end" closes a subgraph).
var mermaidKeywords = map[string]bool{
	"end": true, "graph": true, "flowchart": true, "subgraph": true, "style": true, "class": true,
	"classdef": true, "click": true, "linkstyle": true, "direction": true, "default": true,
	"call": true, "href": true,
}

func renderMermaid(b *strings.Builder, d *diagram) {
	// Step ids may hold characters Mermaid ids cannot; map each node to a
	// safe, unique id, keeping readable ids where possible.
	ids := map[string]string{}
	used := map[string]bool{}
	for i, n := range d.nodes {
		want := n.id
		if !mermaidSafeID.MatchString(want) || mermaidKeywords[strings.ToLower(want)] {
			want = "n" + strconv.Itoa(i)
		}
		for used[want] {
			want += "_"
		}
		used[want] = true
		ids[n.id] = want
	}
	b.WriteString("flowchart TD\n")
	for _, n := range d.nodes {
		label := mermaidText(n.label)
		var shape string
		switch n.kind {
		case "router":
			shape = `{"` + label + `"}`
		case "human_input":
			shape = `[/"` + label + `"/]`
		case "end":
			shape = `(("` + label + `"))`
		default:
			shape = `["` + label + `"]`
		}
		fmt.Fprintf(b, "    %s%s\n", ids[n.id], shape)
	}
	for _, e := range d.edges {
		arrow := "-->"
		if e.back {
			arrow = "-.->"
		}
		if e.label == "" {
			fmt.Fprintf(b, "    %s %s %s\n", ids[e.from], arrow, ids[e.to])
			continue
		}
		fmt.Fprintf(b, "    %s %s|\"%s\"| %s\n", ids[e.from], arrow, mermaidText(e.label), ids[e.to])
	}
}

// mermaidText escapes a label for a quoted Mermaid string, with newlines as
// line breaks.
var mermaidEscaper = strings.NewReplacer(
	`"`, "#quot;", "<", "#lt;", ">", "#gt;", "&", "#amp;", "|", "#124;", "\n", "<br/>",
)

func mermaidText(s string) string { return mermaidEscaper.Replace(s) }

func renderDot(b *strings.Builder, d *diagram) {
	b.WriteString("digraph pipeline {\n")
	if d.name != "" {
		fmt.Fprintf(b, "    label=%s;\n", dotQuote(d.name))
	}
	b.WriteString("    node [shape=box, style=rounded];\n")
	for _, n := range d.nodes {
		attrs := "label=" + dotQuote(n.label)
		switch n.kind {
		case "router":
			attrs += ", shape=diamond"
		case "human_input":
			attrs += ", shape=parallelogram"
		case "end":
			attrs += ", shape=doublecircle"
		}
		fmt.Fprintf(b, "    %s [%s];\n", dotQuote(n.id), attrs)
	}
	for _, e := range d.edges {
		var attrs []string
		if e.label != "" {
			attrs = append(attrs, "label="+dotQuote(e.label))
		}
		if e.back {
			attrs = append(attrs, "style=dotted")
		}
		suffix := ""
		if len(attrs) > 0 {
			suffix = " [" + strings.Join(attrs, ", ") + "]"
		}
		fmt.Fprintf(b, "    %s -> %s%s;\n", dotQuote(e.from), dotQuote(e.to), suffix)
	}
	b.WriteString("}\n")
}

var dotEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func dotQuote(s string) string { return `"` + dotEscaper.Replace(s) + `"` }
