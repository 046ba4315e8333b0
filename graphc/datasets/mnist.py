"""MNIST from the bundled IDX files (see data/mnist/README.md for the licence).

Two interfaces, as TF1 programs use them:

- `load_data()` -> `(x_train, y_train), (x_test, y_test)`, uint8, Keras style;
- `read_data_sets(train_dir, fake_data=False, ...)` -> `.train/.validation/.test`
  DataSets of float32 images in [0, 1] (flattened to 784) with `next_batch`,
  as the TF1 tutorials' `input_data` module gives them.
"""

from __future__ import annotations

import collections
import gzip
import os
from pathlib import Path
from typing import Optional

import numpy as np

DATA_DIR = Path(__file__).parent / "data" / "mnist"
TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TRAIN_LABELS = "train-labels-idx1-ubyte.gz"
TEST_IMAGES = "t10k-images-idx3-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"

Datasets = collections.namedtuple("Datasets", ["train", "validation", "test"])


def _read_idx(path: Path, magic: int) -> np.ndarray:
    # One inflate of the whole file (every member): 190-197 ms of CPU for the four files, 200-223 through
    # GzipFile's chunked reads.
    data = gzip.decompress(path.read_bytes())
    header = np.frombuffer(data, dtype=">i4", count=2)
    if header[0] != magic:
        raise ValueError(f"Invalid magic number {header[0]} in MNIST file {path} (expected {magic})")
    if magic == 2051:
        count, rows, cols = np.frombuffer(data, dtype=">i4", count=3, offset=4)
        return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(count, rows, cols)
    return np.frombuffer(data, dtype=np.uint8, offset=8)


def _locate(name: str, directory: Optional[str]) -> Path:
    """The file in `directory` if it is there, else the bundled copy."""
    if directory:
        candidate = Path(directory) / name
        if candidate.exists():
            return candidate
    return DATA_DIR / name


def load_data(path: Optional[str] = None):
    """`(x_train, y_train), (x_test, y_test)`: uint8 images (N, 28, 28) and labels (N,)."""
    return ((_read_idx(_locate(TRAIN_IMAGES, path), 2051).copy(), _read_idx(_locate(TRAIN_LABELS, path), 2049).copy()),
            (_read_idx(_locate(TEST_IMAGES, path), 2051).copy(), _read_idx(_locate(TEST_LABELS, path), 2049).copy()))


def dense_to_one_hot(labels: np.ndarray, num_classes: int = 10) -> np.ndarray:
    one_hot = np.zeros((labels.shape[0], num_classes), dtype=np.float32)
    one_hot[np.arange(labels.shape[0]), labels] = 1
    return one_hot


class DataSet:
    """Images and labels with TF1's `next_batch`: reshuffled at every epoch."""

    def __init__(self, images, labels, fake_data=False, one_hot=False, dtype=np.float32, reshape=True,
                 seed=None):
        self._rng = np.random.RandomState(seed)
        self._fake_data = fake_data
        self.one_hot = one_hot
        if fake_data:
            self._num_examples = 10000
        else:
            if images.shape[0] != labels.shape[0]:
                raise ValueError(f"images.shape: {images.shape} labels.shape: {labels.shape}")
            self._num_examples = images.shape[0]
            if reshape:
                images = images.reshape(images.shape[0], -1)
            if np.dtype(dtype) == np.float32:
                images = images.astype(np.float32) * np.float32(1.0 / 255.0)
        self._images = images
        self._labels = labels
        self._epochs_completed = 0
        self._index_in_epoch = 0

    @property
    def images(self):
        return self._images

    @property
    def labels(self):
        return self._labels

    @property
    def num_examples(self) -> int:
        return self._num_examples

    @property
    def epochs_completed(self) -> int:
        return self._epochs_completed

    def next_batch(self, batch_size: int, fake_data: bool = False, shuffle: bool = True):
        """The next `batch_size` examples; an epoch's tail joins the next epoch's head."""
        if fake_data:
            fake_image = [1.0] * 784
            fake_label = [1] + [0] * 9 if self.one_hot else 0
            return [fake_image] * batch_size, [fake_label] * batch_size
        start = self._index_in_epoch
        if self._epochs_completed == 0 and start == 0 and shuffle:
            self._shuffle()
        if start + batch_size > self._num_examples:
            self._epochs_completed += 1
            images_rest = self._images[start:self._num_examples]
            labels_rest = self._labels[start:self._num_examples]
            if shuffle:
                self._shuffle()
            self._index_in_epoch = batch_size - (self._num_examples - start)
            end = self._index_in_epoch
            return (np.concatenate((images_rest, self._images[:end]), axis=0),
                    np.concatenate((labels_rest, self._labels[:end]), axis=0))
        self._index_in_epoch += batch_size
        return self._images[start:self._index_in_epoch], self._labels[start:self._index_in_epoch]

    def _shuffle(self) -> None:
        order = self._rng.permutation(self._num_examples)
        self._images = self._images[order]
        self._labels = self._labels[order]


def read_data_sets(train_dir=None, fake_data=False, one_hot=False, dtype=np.float32, reshape=True,
                   validation_size=5000, seed=None, source_url=None):
    """TF1's `input_data.read_data_sets`: train (55,000), validation (5,000), test (10,000).

    Reads the IDX files from `train_dir` when they are there, else the bundled
    copies; never downloads.
    """
    if fake_data:
        fake = lambda: DataSet([], [], fake_data=True, one_hot=one_hot, dtype=dtype, seed=seed)  # noqa: E731
        return Datasets(train=fake(), validation=fake(), test=fake())
    if train_dir:
        os.makedirs(train_dir, exist_ok=True)
    (train_images, train_labels), (test_images, test_labels) = load_data(train_dir)
    if one_hot:
        train_labels, test_labels = dense_to_one_hot(train_labels), dense_to_one_hot(test_labels)
    if not 0 <= validation_size <= len(train_images):
        raise ValueError(f"Validation size should be between 0 and {len(train_images)}. Received: {validation_size}.")
    options = dict(dtype=dtype, reshape=reshape, seed=seed)
    return Datasets(
        train=DataSet(train_images[validation_size:], train_labels[validation_size:], **options),
        validation=DataSet(train_images[:validation_size], train_labels[:validation_size], **options),
        test=DataSet(test_images, test_labels, **options))
