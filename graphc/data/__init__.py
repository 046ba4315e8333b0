"""`tf.data` (TF 1.15): datasets built in Python, iterators that are graph ops fed by the session.

See dataset.py (the datasets), iterator.py (the iterators and their ops),
pipeline.py (the host side a session runs before each step) and DESIGN.md.
"""

from graphc.data.dataset import AUTOTUNE, Dataset
from graphc.data.iterator import (Iterator, get_output_classes, get_output_shapes, get_output_types,
                                  make_initializable_iterator, make_one_shot_iterator)


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


__all__ = ["AUTOTUNE", "Dataset", "Iterator", "experimental", "get_output_classes", "get_output_shapes",
           "get_output_types", "make_initializable_iterator", "make_one_shot_iterator"]
