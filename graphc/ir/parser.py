"""Parses the IR text that `printer.py` writes back into a Program.

Grammar (one item a line; `#` starts a comment holding the source op name)::

    program    := "program" NAME ":" decl* (instruction | kernel)* fetch
    kernel     := "kernel" INT KIND ":" instruction+      (instructions indented by 4)
    decl       := ("var" | "rng") "@" NAME ":" type
    instruction:= [value ":" type "="] OP [operand ("," operand)*] [attrs] ["#" SOURCE]
    fetch      := "fetch" [value ("," value)*]
    operand    := value | "@" NAME          value := "%" INT
    type       := DTYPE "[" [INT ("," INT)*] "]"
    attrs      := "{" NAME "=" literal ("," NAME "=" literal)* "}"
    literal    := "true" | "false" | INT | FLOAT | "nan" | "inf" | STRING | DTYPE
                | "[" [literal ("," literal)*] "]" | "<" DIGEST ">"

In a `constant`, a scalar literal is a splat of the result type and `<digest>`
stands for a summarised array.
"""

from __future__ import annotations

import json
import re

import numpy as np

from graphc.core import dtypes
from graphc.ir.program import Instruction, IRType, OpaqueConstant, Program, Value, VarDecl, VarRef

_TOKEN = re.compile(r"""
    (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<digest><[^>]*>)
  | (?P<value>%\d+)
  | (?P<var>@[A-Za-z0-9_.\-/>]+(?::[A-Za-z0-9_.\-/>]+)?)
  | (?P<number>[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|inf\b|nan\b))
  | (?P<word>[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<punct>[\[\](){}:,=])
  | (?P<space>\s+)
""", re.VERBOSE)


class ParseError(ValueError):
    """The text is not valid IR; the message gives the line."""


def parse(text: str) -> Program:
    """The Program that `text` prints."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise ParseError("empty program text")
    header = re.fullmatch(r"program\s+(\S+):", lines[0].strip())
    if not header:
        raise ParseError(f"line 1: expected 'program NAME:', got {lines[0]!r}")
    variables, instructions, fetches = [], [], None
    values: dict[int, Value] = {}
    kernels: dict[int, str] = {}
    kernel = None
    for number, line in enumerate(lines[1:], start=2):
        body, source = _split_comment(line)
        tokens = _tokenize(body, number)
        if not tokens:
            continue
        kernel_header = re.fullmatch(r"\s*kernel\s+(\d+)\s+(\w+):\s*", body)
        if kernel_header:
            kernel = int(kernel_header.group(1))
            kernels[kernel] = kernel_header.group(2)
            continue
        indent = len(line) - len(line.lstrip(" "))
        member_of = kernel if indent >= 4 else None
        try:
            if tokens[0] == ("word", "var") or tokens[0] == ("word", "rng"):
                variables.append(_parse_decl(tokens))
            elif tokens[0] == ("word", "fetch"):
                fetches = tuple(_lookup(values, t) for kind, t in tokens[1:] if kind == "value")
            elif tokens[0][0] == "word" and tokens[0][1] in ("memory", "arena"):
                continue  # the memory plan summary, an annotation
            else:
                inst = _parse_instruction(tokens, values, source)
                if member_of is not None:
                    inst = inst.replace(kernel=member_of)
                instructions.append(inst)
                if inst.result is not None:
                    values[inst.result.id] = inst.result
        except (ParseError, KeyError, ValueError, IndexError) as e:
            raise ParseError(f"line {number}: {e}: {line.strip()!r}") from None
    if fetches is None:
        raise ParseError("missing 'fetch' line")
    next_id = max(values, default=-1) + 1
    return Program(header.group(1), tuple(variables), tuple(instructions), fetches, next_id, kernels)


def _split_comment(line: str):
    in_string = False
    for i, ch in enumerate(line):
        if ch == '"' and (i == 0 or line[i - 1] != "\\"):
            in_string = not in_string
        elif ch == "#" and not in_string:
            return line[:i], line[i + 1:].strip()
    return line, ""


def _tokenize(text: str, number: int) -> list:
    tokens, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ParseError(f"line {number}: unexpected text {text[pos:]!r}")
        pos = m.end()
        if m.lastgroup != "space":
            tokens.append((m.lastgroup, m.group()))
    return tokens


def _parse_type(tokens, i):
    kind, name = tokens[i]
    dtype = dtypes.from_ir_name(name)
    if tokens[i + 1] != ("punct", "["):
        raise ParseError(f"expected '[' after {name}")
    dims, i = [], i + 2
    while tokens[i] != ("punct", "]"):
        if tokens[i][0] == "number":
            dims.append(int(tokens[i][1]))
        i += 1
    return IRType(dtype, tuple(dims)), i + 1


def _parse_decl(tokens):
    kind = tokens[0][1]
    name = tokens[1][1][1:]
    type_, _ = _parse_type(tokens, 3)
    return VarDecl(name, type_, kind)


def _lookup(values, token):
    return values[int(token[1:])]


def _parse_instruction(tokens, values, source):
    i, result = 0, None
    if tokens[0][0] == "value":
        value_id = int(tokens[0][1][1:])
        type_, i = _parse_type(tokens, 2)
        if tokens[i] != ("punct", "="):
            raise ParseError("expected '='")
        result = Value(value_id, type_)
        i += 1
    op = tokens[i][1]
    i += 1
    operands = []
    while i < len(tokens) and tokens[i][0] in ("value", "var", "punct") and tokens[i] != ("punct", "{"):
        kind, text = tokens[i]
        if kind == "value":
            operands.append(_lookup(values, text))
        elif kind == "var":
            operands.append(VarRef(text[1:]))
        i += 1
    attrs = {}
    if i < len(tokens) and tokens[i] == ("punct", "{"):
        i += 1
        while tokens[i] != ("punct", "}"):
            key = tokens[i][1]
            if tokens[i + 1] != ("punct", "="):
                raise ParseError(f"expected '=' after attribute {key}")
            literal, i = _parse_literal(tokens, i + 2)
            attrs[key] = literal
            if tokens[i] == ("punct", ","):
                i += 1
    if op == "constant":
        attrs["value"] = _constant_array(attrs["value"], result.type)
    return Instruction(op, result, tuple(operands), attrs, source)


def _parse_literal(tokens, i):
    kind, text = tokens[i]
    if kind == "string":
        return json.loads(text), i + 1
    if kind == "digest":
        return OpaqueConstant(text[1:-1]), i + 1
    if kind == "number":
        if re.fullmatch(r"[-+]?\d+", text):
            return int(text), i + 1
        return float(text), i + 1
    if kind == "word":
        if text in ("true", "false"):
            return text == "true", i + 1
        return dtypes.from_ir_name(text), i + 1
    if text == "[":
        items, i = [], i + 1
        while tokens[i] != ("punct", "]"):
            item, i = _parse_literal(tokens, i)
            items.append(item)
            if tokens[i] == ("punct", ","):
                i += 1
        return tuple(items), i + 1
    raise ParseError(f"unexpected {text!r} in attributes")


def _constant_array(literal, type_: IRType):
    if isinstance(literal, OpaqueConstant):
        return literal
    array = np.array(literal, dtype=type_.dtype.np_dtype)
    if array.ndim == 0 and type_.shape != ():
        array = np.broadcast_to(array, type_.shape)
    array = array.reshape(type_.shape)
    array.flags.writeable = False if array.flags.owndata else array.flags.writeable
    return array
