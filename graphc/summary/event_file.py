"""Event files as TensorBoard reads them: TFRecord framing around serialized `Event` protobufs.

Each record is the data's length (uint64, little endian), the masked CRC-32C
of those 8 bytes, the data, and the data's masked CRC-32C. The first event of a
file gives its version ("brain.Event:2"). graphc writes them itself: the writer
TensorBoard ships goes through `tf.io.gfile`, which imports all of TensorFlow
when it happens to be installed (tens of seconds at a program's start).
"""

from __future__ import annotations

import itertools
import os
import socket
import struct
import threading
import time

from graphc.core import checksums

_FILE_NUMBER = itertools.count()  # several writers of one process in one second get different names


def record(data: bytes) -> bytes:
    """`data` framed as one TFRecord."""
    length = struct.pack("<Q", len(data))
    return (length + struct.pack("<I", checksums.masked_crc32c(length)) + data
            + struct.pack("<I", checksums.masked_crc32c(data)))


class EventFileWriter:
    """Appends serialized events to `logdir/events.out.tfevents.<time>.<host>.<pid>.<n><suffix>`.

    Events are buffered and written when `max_queue` are pending, by a background thread at least every
    `flush_secs` seconds, on `flush()` and on `close()`.
    """

    def __init__(self, logdir: str, max_queue: int = 10, flush_secs: float = 120, filename_suffix: str = "",
                 file_version_event: bytes = b""):
        os.makedirs(logdir, exist_ok=True)
        self._logdir = logdir
        name = (f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}.{os.getpid()}."
                f"{next(_FILE_NUMBER)}{filename_suffix}")
        self._file = open(os.path.join(logdir, name), "wb")  # noqa: SIM115 - closed by close()
        self._pending: list[bytes] = [record(file_version_event)] if file_version_event else []
        self._max_queue = max_queue
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._flusher = threading.Thread(target=self._flush_every, args=(flush_secs,), daemon=True,
                                         name="graphc-event-file-flusher")
        self._flusher.start()
        self.flush()

    def get_logdir(self) -> str:
        return self._logdir

    def add_event(self, serialized_event: bytes) -> None:
        with self._lock:
            self._pending.append(record(serialized_event))
            full = len(self._pending) >= self._max_queue
        if full:
            self.flush()

    def flush(self) -> None:
        """Writes every pending event and flushes the file to the operating system."""
        with self._lock:
            if self._file.closed:
                return
            self._file.write(b"".join(self._pending))
            self._pending.clear()
            self._file.flush()

    def close(self) -> None:
        self._closing.set()
        self._flusher.join()
        self.flush()
        with self._lock:
            self._file.close()

    def _flush_every(self, seconds: float) -> None:
        while not self._closing.wait(seconds):
            self.flush()
