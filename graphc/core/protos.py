"""TensorBoard's protobuf classes (Summary, Event, GraphDef, MetaGraphDef, ConfigProto ...), an optional dependency.

Summaries, FileWriter, `Graph.as_graph_def` and the session's options
(ConfigProto, RunOptions, RunMetadata) use them; building summary ops
does not, so `tensorboard` is imported on first use, with an ImportError naming
the extra to install when it is missing.
"""

from __future__ import annotations

import functools
import types

TENSORBOARD_HINT = ("graphc's summaries, FileWriter and session options (tf.ConfigProto, tf.RunOptions) use the "
                    "`tensorboard` package, an optional dependency: pip install 'graphc[tensorboard]'")


@functools.cache
def protos() -> types.SimpleNamespace:
    """TensorBoard's protobuf modules (`protos().summary_pb2` ...), or an ImportError naming the extra."""
    try:
        from tensorboard.compat.proto import (attr_value_pb2, config_pb2, event_pb2, graph_pb2, meta_graph_pb2,
                                              node_def_pb2, saver_pb2, step_stats_pb2, summary_pb2, tensor_shape_pb2,
                                              types_pb2, variable_pb2)
        from tensorboard.util import tensor_util
        from google.protobuf.message import DecodeError  # tensorboard's own dependency
    except ImportError as e:
        raise ImportError(f"{TENSORBOARD_HINT} ({e})") from e
    return types.SimpleNamespace(attr_value_pb2=attr_value_pb2, config_pb2=config_pb2, event_pb2=event_pb2,
                                 graph_pb2=graph_pb2, meta_graph_pb2=meta_graph_pb2, node_def_pb2=node_def_pb2,
                                 saver_pb2=saver_pb2, step_stats_pb2=step_stats_pb2, summary_pb2=summary_pb2,
                                 tensor_shape_pb2=tensor_shape_pb2, types_pb2=types_pb2, variable_pb2=variable_pb2,
                                 tensor_util=tensor_util, DecodeError=DecodeError)
