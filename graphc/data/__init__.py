"""`tf.data` (TF 1.15): datasets built in Python, iterators that are graph ops fed by the session.

See dataset.py (the datasets), iterator.py (the iterators and their ops),
pipeline.py (the host side a session runs before each step) and DESIGN.md.
"""

from graphc import errors
from graphc.data.dataset import AUTOTUNE, Dataset
from graphc.data.iterator import (Iterator, get_output_classes, get_output_shapes, get_output_types,
                                  make_initializable_iterator, make_one_shot_iterator)


def _file_dataset(name: str):
    def refuse(*args, **kwargs):
        raise errors.UnimplementedError(None, None, f"graphc's tf.data has no file datasets (tf.data.{name}): read "
                                                    "the files with NumPy and use Dataset.from_tensor_slices or "
                                                    "Dataset.from_generator")

    refuse.__doc__ = f"`tf.data.{name}`: not supported (no file datasets); raises UnimplementedError."
    return refuse


TFRecordDataset = _file_dataset("TFRecordDataset")
TextLineDataset = _file_dataset("TextLineDataset")
FixedLengthRecordDataset = _file_dataset("FixedLengthRecordDataset")


class experimental:  # noqa: N801 - TF's namespace `tf.data.experimental`
    """`tf.data.experimental`: the names TF1 programs use from it (transformations for `Dataset.apply`)."""

    AUTOTUNE = AUTOTUNE

    @staticmethod
    def shuffle_and_repeat(buffer_size, count=None, seed=None):
        """`shuffle(buffer_size, seed)` then `repeat(count)`."""
        return lambda dataset: dataset.shuffle(buffer_size, seed).repeat(count)

    @staticmethod
    def map_and_batch(map_func, batch_size, num_parallel_batches=None, drop_remainder=False,
                      num_parallel_calls=None):
        """`map(map_func)` then `batch(batch_size, drop_remainder)`."""
        return lambda dataset: dataset.map(map_func).batch(batch_size, drop_remainder)


__all__ = ["AUTOTUNE", "Dataset", "FixedLengthRecordDataset", "Iterator", "TFRecordDataset", "TextLineDataset",
           "experimental", "get_output_classes", "get_output_shapes", "get_output_types",
           "make_initializable_iterator", "make_one_shot_iterator"]
