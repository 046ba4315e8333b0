"""`tf.summary`: summary ops, their merging, and FileWriter for TensorBoard.

ops.py builds the graph ops, serialization.py turns their computed inputs
into `Summary` protobufs, graph_def.py turns a Graph into a `GraphDef`, and
writer.py writes event files. Protobufs and event files come from the
optional `tensorboard` package (`pip install 'graphc[tensorboard]'`), needed
only when summaries are run or written, not to build them.
"""

from graphc.ops.summary_ops import histogram, image, merge, merge_all, scalar, tensor_summary, text
from graphc.summary.writer import FileWriter
from graphc.summary.writer_cache import FileWriterCache

__all__ = ["Event", "FileWriter", "FileWriterCache", "SessionLog", "Summary", "histogram", "image", "merge",
           "merge_all", "scalar", "tensor_summary", "text"]


def __getattr__(name):
    """`Summary`, `Event` and `SessionLog`, TensorBoard's protobuf classes, imported on first use."""
    from graphc.core.protos import protos

    if name == "Summary":
        return protos().summary_pb2.Summary
    if name in ("Event", "SessionLog"):
        return getattr(protos().event_pb2, name)
    raise AttributeError(f"module 'graphc.summary' has no attribute {name!r}")
