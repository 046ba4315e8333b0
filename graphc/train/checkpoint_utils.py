"""Reading a checkpoint without a graph: `tf.train.load_checkpoint`, `NewCheckpointReader`, `list_variables`,
`load_variable` (TF1's checkpoint_utils), on TensorFlow's format and safetensors alike."""

from __future__ import annotations

import os

from graphc import errors
from graphc.train import checkpoint_formats
from graphc.train.saver import latest_checkpoint


class CheckpointFileReader:
    """What `tf.train.NewCheckpointReader(prefix)` returns: a checkpoint's tensors by name.

    Opening checks the checkpoint's header (NotFoundError if there is none,
    DataLossError if it is damaged); each `get_tensor` reads and verifies one
    tensor.
    """

    def __init__(self, prefix: str):
        self.prefix = os.fspath(prefix)
        if not checkpoint_formats.exists(self.prefix):
            raise errors.NotFoundError(None, None, f"Unsuccessful TensorSliceReader constructor: Failed to find any "
                                                   f"matching files for {self.prefix}")
        with checkpoint_formats.open_checkpoint(self.prefix) as reader:
            self._shapes = {name: list(entry.shape) for name, entry in reader.entries.items()}

    def has_tensor(self, name: str) -> bool:
        return name in self._shapes

    def get_variable_to_shape_map(self) -> dict:
        """Tensor name -> its shape as a list."""
        return dict(self._shapes)

    def get_tensor(self, name: str):
        """The tensor `name` as a NumPy array; NotFoundError if the checkpoint has none of that name."""
        if name not in self._shapes:
            raise errors.NotFoundError(None, None, f"Key {name} not found in checkpoint")
        with checkpoint_formats.open_checkpoint(self.prefix) as reader:
            return reader.read(name)


def NewCheckpointReader(filepattern) -> CheckpointFileReader:  # noqa: N802 (TF1's name)
    """`tf.train.NewCheckpointReader`: a reader of the checkpoint with prefix `filepattern`."""
    return CheckpointFileReader(filepattern)


def load_checkpoint(ckpt_dir_or_file) -> CheckpointFileReader:
    """`tf.train.load_checkpoint`: a reader of the checkpoint `ckpt_dir_or_file` (a prefix), or of a
    directory's latest checkpoint; ValueError if the directory has none."""
    ckpt_dir_or_file = os.fspath(ckpt_dir_or_file)
    prefix = latest_checkpoint(ckpt_dir_or_file) if os.path.isdir(ckpt_dir_or_file) else ckpt_dir_or_file
    if prefix is None:
        raise ValueError(f"Couldn't find 'checkpoint' file or checkpoints in given directory {ckpt_dir_or_file}")
    return CheckpointFileReader(prefix)


def list_variables(ckpt_dir_or_file) -> list:
    """`tf.train.list_variables`: (name, shape as a list) of every tensor of the checkpoint, sorted by name.

    Reads the header alone.
    """
    shapes = load_checkpoint(ckpt_dir_or_file).get_variable_to_shape_map()
    return [(name, shapes[name]) for name in sorted(shapes)]


def load_variable(ckpt_dir_or_file, name: str):
    """`tf.train.load_variable`: the value (a NumPy array) of tensor `name` ("w" or "w:0") of the checkpoint."""
    if name.endswith(":0"):
        name = name[:-2]
    return load_checkpoint(ckpt_dir_or_file).get_tensor(name)
