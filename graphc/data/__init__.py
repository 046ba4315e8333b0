"""`tf.data` (TF 1.15): datasets built in Python, iterators that are graph ops fed by the session.

See dataset.py (the datasets), iterator.py (the iterators and their ops),
pipeline.py (the host side a session runs before each step) and DESIGN.md.
"""

from graphc.data.dataset import AUTOTUNE, Dataset
from graphc.data.iterator import (Iterator, get_output_classes, get_output_shapes, get_output_types,
                                  make_initializable_iterator, make_one_shot_iterator)


class experimental:  # noqa: N801 - TF's namespace `tf.data.experimental`
    """`tf.data.experimental`: the names TF1 programs use from it."""

    AUTOTUNE = AUTOTUNE


__all__ = ["AUTOTUNE", "Dataset", "Iterator", "experimental", "get_output_classes", "get_output_shapes",
           "get_output_types", "make_initializable_iterator", "make_one_shot_iterator"]
