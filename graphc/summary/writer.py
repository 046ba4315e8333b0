"""`tf.summary.FileWriter`: TensorBoard event files (summary/event_file.py writes the records).

The file is `logdir/events.out.tfevents.<time>.<host>.<pid>.<n>`: TFRecord
framing with masked CRC32C checksums around `Event` protobufs, the first one
the file version. Events are queued and written at least every `flush_secs`
by a background thread; `flush` writes them at once.
"""

from __future__ import annotations

import time

from graphc.core.protos import protos
from graphc.frontend import graph_def as graph_def_module
from graphc.frontend.graph import Graph
from graphc.summary.event_file import EventFileWriter


class FileWriter:
    """Writes summaries, the graph, run metadata and other events to an event file in `logdir` (TF1's FileWriter).

    `graph` (a Graph, e.g. `sess.graph`) or `graph_def` is written at once,
    for TensorBoard's graph view. `max_queue` events are buffered; they are
    written at least every `flush_secs` seconds, on `flush()` and on `close()`.
    `session` is accepted for TF1 compatibility and ignored.
    """

    def __init__(self, logdir, graph=None, max_queue=10, flush_secs=120, graph_def=None, filename_suffix=None,
                 session=None):
        self._event_protos = protos().event_pb2
        version = self._event_protos.Event(wall_time=time.time(), file_version="brain.Event:2")
        self._writer = EventFileWriter(str(logdir), max_queue, flush_secs, filename_suffix or "",
                                       version.SerializeToString())
        self._closed = False
        self._run_metadata_tags: set = set()  # TF1 refuses a tag used twice
        if graph is not None or graph_def is not None:
            self.add_graph(graph, graph_def=graph_def)

    def get_logdir(self) -> str:
        """The directory the event file is in."""
        return self._writer.get_logdir()

    def add_summary(self, summary, global_step=None) -> None:
        """Adds a Summary protobuf, or its serialized bytes as `sess.run(summary_op)` returns, at `global_step`."""
        if isinstance(summary, (bytes, bytearray)):
            parsed = protos().summary_pb2.Summary()
            parsed.ParseFromString(bytes(summary))
            summary = parsed
        self.add_event(self._event_protos.Event(summary=summary), global_step)

    def add_graph(self, graph, global_step=None, graph_def=None) -> None:
        """Adds `graph` (a graphc Graph) or `graph_def` (a GraphDef protobuf) for TensorBoard's graph view."""
        if graph is not None and graph_def is not None:
            raise ValueError("Please pass only graph, or graph_def (deprecated), but not both.")
        if isinstance(graph, Graph):
            graph_def = graph_def_module.graph_def(graph, summarize_constants=True)
        elif graph is not None:
            graph_def = graph  # TF1 accepts a GraphDef in place of the graph
        if graph_def is None:
            raise TypeError("add_graph needs a graphc Graph or a GraphDef")
        self.add_event(self._event_protos.Event(graph_def=graph_def.SerializeToString()), global_step)

    def add_run_metadata(self, run_metadata, tag, global_step=None) -> None:
        """Adds a run's RunMetadata (its step stats: `sess.run(..., options=RunOptions(trace_level=FULL_TRACE),
        run_metadata=...)`) under `tag`, which TensorBoard's graph view offers as a session run."""
        if tag in self._run_metadata_tags:
            raise ValueError("The provided tag was already used for this event type")
        self._run_metadata_tags.add(tag)
        tagged = self._event_protos.TaggedRunMetadata(tag=tag, run_metadata=run_metadata.SerializeToString())
        self.add_event(self._event_protos.Event(tagged_run_metadata=tagged), global_step)

    def add_session_log(self, session_log, global_step=None) -> None:
        """Adds a SessionLog protobuf (START, CHECKPOINT, STOP: a training session's milestones)."""
        self.add_event(self._event_protos.Event(session_log=session_log), global_step)

    def add_event(self, event, global_step=None) -> None:
        """Adds an Event protobuf, stamped with the wall time and, if given, `global_step`."""
        if self._closed:
            raise RuntimeError("FileWriter is closed")
        event.wall_time = time.time()
        if global_step is not None:
            event.step = int(global_step)
        self._writer.add_event(event.SerializeToString())

    def flush(self) -> None:
        """Writes every pending event to disk."""
        self._writer.flush()

    def close(self) -> None:
        """Flushes and closes the event file; further adds raise."""
        if not self._closed:
            self._writer.close()
            self._closed = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
