"""Pictures of a signature as Graphviz DOT text: its frontend graph or its IR.

- `graph_dot` draws the frontend graph (`dump.parse_graph_text` of a
  `000_graph.txt`): one node an op, an edge a tensor labelled with its type
  and shape, dashed edges for control inputs, name scopes as nested clusters.
- `program_dot` draws an IR Program: one node an instruction, an edge a value
  labelled with its type. Before fusion the name scopes of the ops the
  instructions come from are clusters; after fusion each kernel is a cluster
  holding the instructions it fused (a name scope may span kernels, and DOT
  clusters must nest, so there the op name is each node's tooltip instead).

Placeholders (feeds), variables (their reads and writes) and constants each
have a style of their own. `graphc dump --format dot|svg|png` writes these.
"""

from __future__ import annotations

from graphc.ir.printer import format_attr
from graphc.ir.program import Instruction, Program

FEED_STYLE = 'shape=invhouse, style=filled, fillcolor="#cfe2f3"'
VARIABLE_STYLE = 'shape=box, style="rounded,filled", fillcolor="#fff2cc"'
CONSTANT_STYLE = 'shape=box, style=filled, fillcolor="#eeeeee", fontsize=8, height=0.3'
FETCH_STYLE = 'shape=house, style=filled, fillcolor="#d9d2e9"'
GRAPH_OP_STYLES = {
    "Placeholder": FEED_STYLE, "PlaceholderWithDefault": FEED_STYLE,
    "VariableV2": VARIABLE_STYLE, "Variable": VARIABLE_STYLE, "VarHandleOp": VARIABLE_STYLE,
    "Const": CONSTANT_STYLE,
}
IR_OP_STYLES = {"feed": FEED_STYLE, "read": VARIABLE_STYLE, "write": VARIABLE_STYLE, "constant": CONSTANT_STYLE}
KERNEL_COLORS = {"gemm": "#fce5cd", "softmax": "#ead1dc", "reduce": "#d0e0e3", "loop": "#d9ead3"}
OTHER_KERNEL_COLOR = "#eeeeee"
HEADER = ['  graph [fontname="Helvetica", fontsize=10, labeljust=l];',
          '  node [fontname="Helvetica", fontsize=10, shape=ellipse];',
          '  edge [fontname="Helvetica", fontsize=8, fontcolor="#555555"];']


def graph_dot(ops: list, title: str = "graph") -> str:
    """DOT for the frontend graph ops `ops` (`dump.GraphOp`s)."""
    outputs = {op.name: op.outputs for op in ops}
    scopes = _scope_names(op.name for op in ops)
    nodes, edges = {}, []
    for op in ops:
        short = op.name.rsplit("/", 1)[-1]
        label = short if short == op.type else f"{short}\n{op.type}"
        node = f"{quote(op.name)} [label={quote(label)}, tooltip={quote(op.name)}"
        style = GRAPH_OP_STYLES.get(op.type)
        nodes.setdefault(_scope_of(op.name, scopes), []).append(node + (f", {style}];" if style else "];"))
        for tensor in op.inputs:
            producer, _, index = tensor.rpartition(":")
            if producer not in outputs:
                raise ValueError(f"op {op.name} reads {tensor}, which no op of the graph produces")
            label = outputs[producer][int(index)] if int(index) < len(outputs[producer]) else tensor
            edges.append(f"{quote(producer)} -> {quote(op.name)} [label={quote(label)}];")
        for control in op.control_inputs:
            if control not in outputs:
                raise ValueError(f"op {op.name} has control input {control}, which is not in the graph")
            edges.append(f"{quote(control)} -> {quote(op.name)} [style=dashed, arrowhead=odot];")
    return _digraph(title, _scope_clusters(nodes), edges)


def program_dot(program: Program) -> str:
    """DOT for `program`; its kernels are clusters when fusion has run, else its name scopes."""
    fused = any(inst.kernel is not None for inst in program.instructions)
    scopes = _scope_names(inst.source for inst in program.instructions if inst.source)
    producer = {}
    scoped_nodes, kernel_nodes, edges = {}, {}, []
    for number, inst in enumerate(program.instructions):
        node_id = f"i{number}"
        for value in inst.defined:  # a loop or cond is one node: its regions are in the text dumps
            producer[value.id] = node_id
        node = f"{node_id} [label={quote(_instruction_label(inst))}, tooltip={quote(inst.source or inst.op)}"
        style = IR_OP_STYLES.get(inst.op)
        node += f", {style}];" if style else "];"
        if fused:
            kernel_nodes.setdefault(inst.kernel, []).append(node)
        else:
            scoped_nodes.setdefault(_scope_of(inst.source, scopes) if inst.source else (), []).append(node)
        for value in inst.values:
            edges.append(f"{producer[value.id]} -> {node_id} [label={quote(str(value.type))}];")
    fetch_lines = []
    if program.fetches:
        fetch_lines.append(f"fetch [label=\"fetch\", {FETCH_STYLE}];")
        edges.extend(f"{producer[v.id]} -> fetch [label={quote(str(v.type))}];" for v in program.fetches)
    body = _kernel_clusters(kernel_nodes, program.kernels) if fused else _scope_clusters(scoped_nodes)
    return _digraph(program.name, body + fetch_lines, edges)


def quote(text: str) -> str:
    """A DOT quoted string; a newline in `text` becomes DOT's line break."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _instruction_label(inst: Instruction) -> str:
    if inst.op == "feed":
        return f"{inst.result} = feed\n{inst.attrs['tensor']}"
    if inst.op == "read":
        return f"{inst.result} = read\n{inst.operands[0]}"
    if inst.op == "write":
        return f"write\n{inst.operands[0]}"
    if inst.op == "constant":
        return f"{inst.result} = {format_attr('value', inst.attrs['value'], inst, full=False)}"
    if inst.regions:
        return f"{', '.join(str(v) for v in inst.outputs)} = {inst.op}\n({', '.join(r.name for r in inst.regions)})"
    return f"{inst.result} = {inst.op}" if inst.result is not None else inst.op


def _scope_names(names) -> set:
    """Every name scope of `names`: `a/b/c` has scopes `a` and `a/b`."""
    scopes = set()
    for name in names:
        parts = name.split("/")
        scopes.update("/".join(parts[:i]) for i in range(1, len(parts)))
    return scopes


def _scope_of(name: str, scopes: set) -> tuple:
    """The scope path a node named `name` is drawn in: its parent scope, or its own name
    when that is itself a scope (a variable with its `read` goes in one cluster)."""
    parts = tuple(name.split("/"))
    return parts if name in scopes else parts[:-1]


def _scope_clusters(nodes: dict, prefix: str = "") -> list:
    """Nested `subgraph cluster_...` blocks from {scope path below `prefix`: node lines}."""
    lines = list(nodes.get((), []))
    for child in sorted({path[0] for path in nodes if path}):
        inner = {path[1:]: members for path, members in nodes.items() if path and path[0] == child}
        full = f"{prefix}/{child}" if prefix else child
        # Cluster ids must be unique in the graph: they carry the full scope path.
        lines.append(f"subgraph {quote('cluster_' + full)} {{")
        lines.append(f'  label={quote(child)}; style="rounded"; color="#999999";')
        lines.extend("  " + line for line in _scope_clusters(inner, full))
        lines.append("}")
    return lines


def _kernel_clusters(nodes: dict, kinds: dict) -> list:
    """Free instructions (feeds, constants, reads) at top level; each kernel one cluster."""
    lines = list(nodes.get(None, []))
    for kernel in sorted(k for k in nodes if k is not None):
        kind = kinds.get(kernel, "?")
        lines.append(f"subgraph cluster_kernel_{kernel} {{")
        lines.append(f'  label={quote(f"kernel {kernel} {kind}")}; style="rounded,filled"; '
                     f"fillcolor={quote(KERNEL_COLORS.get(kind, OTHER_KERNEL_COLOR))};")
        lines.extend("  " + line for line in nodes[kernel])
        lines.append("}")
    return lines


def _digraph(title: str, body: list, edges: list) -> str:
    lines = [f"digraph {quote(title)} {{", *HEADER]
    lines.extend("  " + line for line in body + edges)
    lines.append("}")
    return "\n".join(lines) + "\n"
