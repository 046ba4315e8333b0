"""Compiled steps on disk by the graph they came from (compiler/graph_key.py): a hit skips lowering, the
passes and LLVM, and loads the library.

A record `<graph key>.step` sits in the disk cache beside the libraries, stored and
verified by the same rules (runtime/cache.py: a private directory, entries opened
without following links, a SHA-256 checked before use). It holds the final program
(memory plan and constants included), what lowering found out about the graph —
with graph objects written as the names and positions that find them again — and
the cache name of the program's library. The record is a pickle: reading it runs
code from the cache, as loading the library it names does, and is safe under the
same rules. A record whose library was evicted, or whose variables are not ops of the
graph as named, is a miss: the step is compiled again and the record replaced.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from graphc.backend import libraries
from graphc.compiler.graph_key import GraphKey
from graphc.compiler.lower import LoweredStep
from graphc.ir.program import Program
from graphc.runtime import cache


@dataclass
class _Record:
    """What a record holds: LoweredStep's facts, graph objects as names and positions."""

    library_name: str
    program: Program
    feed_positions: tuple        # LoweredStep.feed_tensors as positions in the signature's feeds
    fetch_slots: tuple
    variables: dict              # declared var name -> the op's name
    requires_initialized: tuple
    writes: tuple
    init_dependencies: tuple
    initial_states: dict


@dataclass
class CachedStep:
    """A hit: the lowered step, its final program, and its library (open and verified)."""

    lowered: LoweredStep
    program: Program
    library: cache.Library


def record_name(key: GraphKey) -> str:
    """The cache name of a signature's record (the compiler's fingerprint included)."""
    return libraries.step_key(key.digest).replace(".so", ".step")


def load(key: GraphKey, feed_types: dict) -> Optional[CachedStep]:
    """The step the cache holds for `key`, or None."""
    entry = cache.cached_file(record_name(key))
    if entry is None:
        return None
    with entry:
        record: _Record = pickle.loads(os.pread(entry.fd, os.fstat(entry.fd).st_size, 0))
    if not all(name in key.ops for name in record.variables.values()):
        return None
    library = cache.cached_file(record.library_name)
    if library is None:
        return None
    feeds = list(feed_types)
    lowered = LoweredStep(
        record.program, tuple(feeds[i] for i in record.feed_positions), record.fetch_slots,
        {name: key.ops[op_name] for name, op_name in record.variables.items()}, record.requires_initialized,
        record.writes, record.init_dependencies, record.initial_states)
    return CachedStep(lowered, record.program, library)


def store(key: GraphKey, lowered: LoweredStep, program: Program, library_name: str, feed_types: dict) -> None:
    """Stores the record of a step compiled for `key`, unless a variable it binds is not an op the key
    names (a random op inside a loop's function): such a step is found by its program's text only."""
    if not all(key.ops.get(op.name) is op for op in lowered.variables.values()):
        return
    positions = {id(tensor): i for i, tensor in enumerate(feed_types)}
    record = _Record(library_name, program, tuple(positions[id(t)] for t in lowered.feed_tensors),
                     lowered.fetch_slots, {name: op.name for name, op in lowered.variables.items()},
                     lowered.requires_initialized, lowered.writes, lowered.init_dependencies,
                     lowered.initial_states)
    data = pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL)
    cache.store_file(record_name(key), lambda path: Path(path).write_bytes(data), keep=(library_name,)).close()

