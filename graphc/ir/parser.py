"""Parses the IR text that `printer.py` writes back into a Program.

Grammar (one item a line; `#` starts a comment holding the source op name)::

    program    := "program" NAME ":" decl* block fetch
    block      := (instruction | kernel)*                 (at one indentation, 2 at the top)
    kernel     := "kernel" INT KIND ":" instruction+      (its instructions 2 further in)
    decl       := ("var" | "rng") "@" NAME ":" type
    instruction:= [value ":" type ("," value ":" type)* "="] OP [operand ("," operand)*] [attrs]
                  ["#" SOURCE] region*
    region     := NAME ":" block "yield" [value ("," value)*]
                  (NAME 2 further in than its instruction, its block and yield 4 further in)
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
from graphc.ir.program import STRUCTURED_OPS, Instruction, IRType, OpaqueConstant, Program, Region, Value, VarDecl, VarRef

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
    records = []
    for number, line in enumerate(lines[1:], start=2):
        body, source = _split_comment(line)
        tokens = _tokenize(body, number)
        if tokens:
            records.append(_Line(number, len(line) - len(line.lstrip(" ")), body, tokens, source, line.strip()))
    reader = _Reader(records)
    variables = []
    while reader.more() and reader.peek().tokens[0] in (("word", "var"), ("word", "rng")):
        record = reader.take()
        with reader.at(record):
            variables.append(_parse_decl(record.tokens))
    instructions = reader.block(2)
    if not reader.more() or reader.peek().tokens[0] != ("word", "fetch"):
        raise ParseError("missing 'fetch' line" if not reader.more() else
                         f"line {reader.peek().number}: unexpected {reader.peek().text!r}")
    record = reader.take()
    with reader.at(record):
        fetches = tuple(_lookup(reader.values, t) for kind, t in record.tokens[1:] if kind == "value")
    next_id = max(reader.values, default=-1) + 1
    return Program(header.group(1), tuple(variables), tuple(instructions), fetches, next_id, reader.kernels)


class _Line:
    def __init__(self, number, indent, body, tokens, source, text):
        self.number, self.indent, self.body, self.tokens, self.source, self.text = (
            number, indent, body, tokens, source, text)


class _Reader:
    """The program's non-empty lines, read in order into nested blocks by their indentation."""

    def __init__(self, records: list):
        self.records, self.position = records, 0
        self.values: dict[int, Value] = {}
        self.kernels: dict[int, str] = {}

    def more(self) -> bool:
        return self.position < len(self.records)

    def peek(self) -> _Line:
        return self.records[self.position]

    def take(self) -> _Line:
        self.position += 1
        return self.records[self.position - 1]

    def at(self, record: _Line):
        return _LineErrors(record)

    def block(self, indent: int) -> list:
        """The instructions (and kernels) at `indent`, up to a line further out, a `yield` or `fetch`."""
        instructions, kernel = [], None
        while self.more():
            record = self.peek()
            if record.indent < indent or record.tokens[0] in (("word", "yield"), ("word", "fetch")):
                break
            kernel_header = re.fullmatch(r"\s*kernel\s+(\d+)\s+(\w+):\s*", record.body)
            if kernel_header and record.indent == indent:
                kernel = int(kernel_header.group(1))
                self.kernels[kernel] = kernel_header.group(2)
                self.take()
                continue
            if record.indent == indent:
                kernel = None
            elif kernel is None or record.indent != indent + 2:
                raise ParseError(f"line {record.number}: unexpected indentation: {record.text!r}")
            self.take()
            with self.at(record):
                inst = _parse_instruction(record.tokens, self.values, record.source)
            for value in inst.defined:
                self.values[value.id] = value
            regions = []
            while self.more() and self.peek().indent == record.indent + 2:
                region_header = re.fullmatch(r"\s*(\w+):\s*", self.peek().body)
                if not region_header:
                    break
                self.take()
                body = self.block(record.indent + 4)
                if not self.more() or self.peek().tokens[0] != ("word", "yield"):
                    raise ParseError(f"line {record.number}: region {region_header.group(1)} has no 'yield'")
                end = self.take()
                with self.at(end):
                    results = tuple(_lookup(self.values, t) for kind, t in end.tokens[1:] if kind == "value")
                regions.append(Region(region_header.group(1), tuple(body), results))
            instructions.append(inst.replace(kernel=kernel, regions=tuple(regions)))
        return instructions


class _LineErrors:
    """Turns an error in one line into a ParseError naming it."""

    def __init__(self, record: _Line):
        self.record = record

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if kind is not None and issubclass(kind, (KeyError, ValueError, IndexError)) and kind is not ParseError:
            raise ParseError(f"line {self.record.number}: {error}: {self.record.text!r}") from None
        return False


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
    i, defined = 0, []
    while tokens[i][0] == "value" and tokens[i + 1] == ("punct", ":"):
        value_id = int(tokens[i][1][1:])
        type_, i = _parse_type(tokens, i + 2)
        defined.append(Value(value_id, type_))
        if tokens[i] == ("punct", "="):
            i += 1
            break
        if tokens[i] != ("punct", ","):
            raise ParseError("expected '='")
        i += 1
    result = defined[0] if len(defined) == 1 else None
    outputs = tuple(defined) if len(defined) > 1 else ()
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
    if op in STRUCTURED_OPS and result is not None:  # a structured instruction with one output
        result, outputs = None, (result,)
    return Instruction(op, result, tuple(operands), attrs, source, outputs=outputs)


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
