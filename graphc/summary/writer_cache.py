"""`tf.summary.FileWriterCache`: one FileWriter per directory, shared by the hooks that write there.

A training session's StepCounterHook, SummarySaverHook and CheckpointSaverHook
write into the same directory; sharing the writer keeps their events in one
event file, in order, as TF1 does.
"""

from __future__ import annotations

import os
import threading

from graphc.summary.writer import FileWriter


class FileWriterCache:
    """The FileWriter of each directory, made on first use and kept until `clear()`."""

    _writers: dict = {}
    _lock = threading.Lock()

    @staticmethod
    def get(logdir) -> FileWriter:
        """The cached FileWriter writing into `logdir`."""
        key = os.path.abspath(os.fspath(logdir))
        with FileWriterCache._lock:
            writer = FileWriterCache._writers.get(key)
            if writer is None:
                writer = FileWriterCache._writers[key] = FileWriter(logdir)
            return writer

    @staticmethod
    def clear() -> None:
        """Closes and forgets every cached writer."""
        with FileWriterCache._lock:
            for writer in FileWriterCache._writers.values():
                writer.close()
            FileWriterCache._writers = {}
