"""`tf.estimator.inputs.numpy_input_fn` (TF 1.15) over graphc's tf.data.

TF 1.15 feeds NumPy arrays to a model through a queue that threads fill from a
random start (shuffled by a RandomShuffleQueue of `queue_capacity`); graphc's
input function gives the same batches through a dataset and a one-shot
iterator: the rows in order, or shuffled through a buffer of `queue_capacity`
(each epoch in another order), `num_epochs` times, batched — the last batch
smaller when the epochs are counted (TF's dequeue_up_to), every batch full when
they are not (dequeue_many). Batches are made by the session before each step,
not on threads as TF's queue runners do: the compiled step's threads take every
core, and a prefetching thread measured slower (DESIGN.md, tf.data).
`num_threads` is accepted: one thread keeps the order TF's one thread gives.
"""

from __future__ import annotations

import numpy as np

from graphc.data import Dataset


def _features_dict(x) -> dict:
    """`x` as a dict of arrays sorted by key, as TF orders it ({"__direct_np_input__": x} for an array)."""
    if isinstance(x, dict):
        if not x:
            raise ValueError("x cannot be an empty dict")
        return dict(sorted(x.items()))
    if isinstance(x, np.ndarray):
        if x.size == 0:
            raise ValueError("x cannot be an empty array")
        return {"__direct_np_input__": x}
    raise TypeError(f"x must be a dict or array; got {type(x).__name__}")


def _check_lengths(features: dict, y) -> None:
    columns = list(features.values()) + (list(y.values()) if isinstance(y, dict) else [] if y is None else [y])
    if len({np.shape(column)[0] for column in columns}) != 1:
        shapes_of_y = None if y is None else {k: v.shape for k, v in y.items()} if isinstance(y, dict) else y.shape
        raise ValueError("Length of tensors in x and y is mismatched. All elements in x and y must have the same "
                         f"length.\nShapes in x: { {k: v.shape for k, v in features.items()} }\n"
                         f"Shapes in y: {shapes_of_y}\n")


def numpy_input_fn(x, y=None, batch_size=128, num_epochs=1, shuffle=None, queue_capacity=1000, num_threads=1):
    """An input function giving (features, targets) batches of the NumPy arrays `x` (a dict, or one array)
    and `y` (an array, a dict, or None: then features alone); see the module docstring."""
    if not isinstance(shuffle, bool):
        raise ValueError("shuffle must be provided and explicitly set as boolean (it is recommended to set it as "
                         f"True for training); got {shuffle}")

    def input_fn():
        """Builds the dataset and its iterator in the default graph; the batch's tensors."""
        features = _features_dict(x)
        if isinstance(y, dict):
            if not y:
                raise ValueError("y cannot be empty dict, use None instead.")
            duplicates = set(features) & set(y)
            if duplicates:
                raise ValueError(f"{len(duplicates)} duplicate keys are found in both x and y: {duplicates}")
        _check_lengths(features, y)
        dataset = Dataset.from_tensor_slices(features if y is None else (features, y))
        if shuffle:
            dataset = dataset.shuffle(queue_capacity)
        dataset = dataset.repeat(num_epochs).batch(batch_size, drop_remainder=num_epochs is None)
        batch = dataset.make_one_shot_iterator().get_next()
        batch_features, targets = (batch, None) if y is None else batch
        if isinstance(x, np.ndarray):
            batch_features = batch_features["__direct_np_input__"]
        return batch_features if y is None else (batch_features, targets)

    return input_fn
