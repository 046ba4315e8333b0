"""`tf.nn.embedding_lookup`: rows of an embedding table (or of a table split into shards) by id."""

from __future__ import annotations

import numpy as np

from graphc.frontend.graph import convert_to_tensor, name_scope
from graphc.ops import gather_ops, layout_ops


def _shard_rows(shards) -> list:
    rows = [s.shape.as_list()[0] if s.shape.ndims else None for s in shards]
    if None in rows:
        raise ValueError("graphc's tf.nn.embedding_lookup over several shards needs each shard's number of rows "
                         f"when the graph is built; got {rows}")
    return rows


def _mod_order(rows: list) -> np.ndarray:
    """Where id i sits in the shards concatenated, when shard i % n holds it as its row i // n."""
    n, starts = len(rows), np.cumsum([0] + rows[:-1])
    total = sum(rows)
    ids = np.arange(total)
    return (starts[ids % n] + ids // n).astype(np.int32)


def embedding_lookup(params, ids, partition_strategy="mod", name=None, validate_indices=True, max_norm=None):
    """`tf.nn.embedding_lookup`: params[ids] for one table (a gather; its gradient is the dense scatter-add
    of ops/gather_ops.py); for a list of shards, ids spread over them by `partition_strategy` ("mod": shard
    id % n, row id // n; "div": contiguous ranges), as TF1 splits them."""
    if max_norm is not None:
        raise NotImplementedError("graphc's tf.nn.embedding_lookup has no max_norm")
    if partition_strategy not in ("mod", "div"):
        raise ValueError(f"Unrecognized partition strategy: {partition_strategy}")
    shards = list(params) if isinstance(params, (list, tuple)) else [params]
    if not shards:
        raise ValueError("Need at least one param")
    with name_scope(name, "embedding_lookup", shards + [ids]) as scope:
        shards = [convert_to_tensor(s, name="params") for s in shards]
        ids = convert_to_tensor(ids, name="ids")
        if len(shards) == 1:
            return gather_ops.gather(shards[0], ids, name=scope)
        rows = _shard_rows(shards)
        table = layout_ops.concat(shards, 0)
        if partition_strategy == "mod":  # the shards hold the rows interleaved: put them back in id order
            table = gather_ops.gather(table, _mod_order(rows))
        return gather_ops.gather(table, ids, name=scope)
