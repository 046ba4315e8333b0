"""The two formats a checkpoint may have on disk, behind one interface: open, write, find, delete.

- "tf" (the default): TensorFlow's own, `PREFIX.index` + `PREFIX.data-00000-of-00001`
  (`tensor_bundle`), so checkpoints go both ways between graphc and TensorFlow.
- "safetensors": one file `PREFIX.safetensors` with SHA-256 checksums (`checkpoint_io`),
  which `safetensors.numpy.load_file` reads without graphc or TensorFlow.

A checkpoint is read in whichever format its files have; both readers offer
`entries` (name -> entry with `dtype`, `type_name`, `shape`), `read(name)` and
`path`, and check their header before reading any tensor.
"""

from __future__ import annotations

import contextlib
import os

from graphc import errors
from graphc.train import checkpoint_io, tensor_bundle

TF = "tf"
SAFETENSORS = "safetensors"
FORMATS = (TF, SAFETENSORS)
DEFAULT = TF
META_SUFFIX = ".meta"


def check_format(checkpoint_format: str) -> str:
    """`checkpoint_format` if it is one graphc writes, else a ValueError listing them."""
    if checkpoint_format not in FORMATS:
        raise ValueError(f"Unknown checkpoint format {checkpoint_format!r}: graphc writes {', '.join(FORMATS)}")
    return checkpoint_format


def format_of(prefix: str):
    """The format of the checkpoint `prefix` ("tf" or "safetensors"), or None if it has neither's files.

    Should both exist (a save in the other format was killed before it removed
    the old files), the newer is the checkpoint.
    """
    times = {}
    for checkpoint_format, path in ((TF, tensor_bundle.index_file(prefix)),
                                    (SAFETENSORS, checkpoint_io.data_file(prefix))):
        with contextlib.suppress(FileNotFoundError):
            times[checkpoint_format] = os.stat(path).st_mtime_ns
    return max(times, key=times.get) if times else None


def exists(prefix: str) -> bool:
    """Whether `prefix` is a checkpoint of either format."""
    return format_of(prefix) is not None


def open_checkpoint(prefix: str):
    """A reader of the checkpoint `prefix` (a context manager); NotFoundError if it has no files."""
    checkpoint_format = format_of(prefix)
    if checkpoint_format == TF:
        return tensor_bundle.BundleReader(prefix)
    if checkpoint_format == SAFETENSORS:
        return checkpoint_io.CheckpointReader(checkpoint_io.data_file(prefix))
    raise errors.NotFoundError(None, None, f"No checkpoint {prefix}: neither TensorFlow's "
                                           f"{tensor_bundle.index_file(prefix)} nor {checkpoint_io.data_file(prefix)}")


def write(prefix: str, tensors: dict, checkpoint_format: str = DEFAULT, shard_of=None) -> None:
    """Writes `tensors` (name -> array) as the checkpoint `prefix` in `checkpoint_format` (in TF's, split
    between data files by `shard_of`: name -> shard), then removes the prefix's files of the other format,
    which would otherwise be read as the same checkpoint."""
    if check_format(checkpoint_format) == TF:
        tensor_bundle.write_bundle(prefix, tensors, shard_of)
        checkpoint_io.delete_checkpoint(prefix)
    else:
        checkpoint_io.write_checkpoint(prefix, tensors)
        tensor_bundle.delete_bundle(prefix)


def modification_time(prefix: str) -> float:
    """When the checkpoint `prefix` was written (its index's or data file's mtime); NotFoundError if absent."""
    checkpoint_format = format_of(prefix)
    if checkpoint_format is None:
        raise errors.NotFoundError(None, None, f"Checkpoint {prefix} not found")
    main_file = tensor_bundle.index_file(prefix) if checkpoint_format == TF else checkpoint_io.data_file(prefix)
    return os.path.getmtime(main_file)


def delete(prefix: str) -> None:
    """Removes the checkpoint's files, of either format, and the `.meta` graph TensorFlow writes beside them."""
    tensor_bundle.delete_bundle(prefix)
    checkpoint_io.delete_checkpoint(prefix)
    with contextlib.suppress(FileNotFoundError):
        os.remove(prefix + META_SUFFIX)
