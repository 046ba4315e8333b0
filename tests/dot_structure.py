"""A small reader of the DOT text graph_picture writes, for checking its structure in tests."""

import re
from dataclasses import dataclass, field

_ID = r'(?:"(?:[^"\\]|\\.)*"|[A-Za-z_][A-Za-z0-9_]*)'
_SUBGRAPH = re.compile(rf"subgraph ({_ID}) \{{")
_EDGE = re.compile(rf"({_ID}) -> ({_ID})(?: \[(.*)\])?;")
_NODE = re.compile(rf"({_ID}) \[(.*)\];")
_ATTR = re.compile(rf'(\w+)=({_ID}|[^,;\]]+)')


@dataclass
class DotStructure:
    nodes: dict = field(default_factory=dict)     # node id -> its attributes, with "clusters": enclosing ids
    edges: list = field(default_factory=list)     # (tail, head, attributes)
    clusters: dict = field(default_factory=dict)  # cluster id -> label


def unquote(token: str) -> str:
    if token.startswith('"'):
        return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), token[1:-1])
    return token


def braces_balance(text: str) -> bool:
    """Every `{` outside quoted strings is closed, in order."""
    depth = 0
    for token in re.findall(r'"(?:[^"\\]|\\.)*"|[{}]', text):
        if token == "{":
            depth += 1
        elif token == "}":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def read_dot(text: str) -> DotStructure:
    """Nodes, edges and clusters of a digraph written one statement a line."""
    assert braces_balance(text), "unbalanced braces"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    assert re.fullmatch(rf"digraph {_ID} \{{", lines[0]), lines[0]
    structure, stack = DotStructure(), []
    for line in lines[1:]:
        if line == "}":
            if stack:
                stack.pop()
            continue
        subgraph = _SUBGRAPH.fullmatch(line)
        if subgraph:
            stack.append(unquote(subgraph.group(1)))
            structure.clusters[stack[-1]] = None
            continue
        if line.startswith(("graph [", "node [", "edge [")):
            continue
        if line.startswith("label=") and stack:
            structure.clusters[stack[-1]] = unquote(_ATTR.match(line).group(2))
            continue
        edge = _EDGE.fullmatch(line)
        if edge:
            structure.edges.append((unquote(edge.group(1)), unquote(edge.group(2)), _attributes(edge.group(3) or "")))
            continue
        node = _NODE.fullmatch(line)
        assert node, f"not a DOT statement: {line!r}"
        name = unquote(node.group(1))
        assert name not in structure.nodes, f"node {name} declared twice"
        structure.nodes[name] = dict(_attributes(node.group(2)), clusters=tuple(stack))
    assert not stack
    return structure


def _attributes(text: str) -> dict:
    return {key: unquote(value.strip()) for key, value in _ATTR.findall(text)}
