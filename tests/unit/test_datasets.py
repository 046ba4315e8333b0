"""The bundled MNIST and TF1's DataSet.next_batch."""

import gzip

import numpy as np
import pytest

from graphc.datasets import mnist


def test_load_data_matches_the_published_facts():
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert y_train[:5].tolist() == [5, 0, 4, 1, 9]
    assert abs(x_train.mean() - 33.318) < 1e-3
    assert np.bincount(y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_idx_files_of_several_gzip_members_are_read_whole(tmp_path):
    labels = np.arange(10, dtype=np.uint8)
    idx = np.array([2049, 10], ">i4").tobytes() + labels.tobytes()
    (tmp_path / mnist.TEST_LABELS).write_bytes(gzip.compress(idx[:7]) + gzip.compress(idx[7:]))
    assert mnist._read_idx(mnist._locate(mnist.TEST_LABELS, str(tmp_path)), 2049).tolist() == labels.tolist()
    (tmp_path / mnist.TEST_LABELS).write_bytes(gzip.compress(idx)[:-4])
    with pytest.raises(EOFError):  # as gzip.open and TF1's reader (Python's gzip) raise
        mnist._read_idx(mnist._locate(mnist.TEST_LABELS, str(tmp_path)), 2049)


def test_read_data_sets_splits_and_scales():
    data = mnist.read_data_sets(None, seed=0)
    assert (data.train.num_examples, data.validation.num_examples, data.test.num_examples) == (55000, 5000, 10000)
    assert data.train.images.dtype == np.float32 and data.train.images.shape[1] == 784
    assert 0.0 <= data.test.images.min() and data.test.images.max() <= 1.0


def test_next_batch_wraps_epochs_and_reshuffles():
    images = np.arange(10, dtype=np.uint8).reshape(10, 1, 1)
    data = mnist.DataSet(images, np.arange(10), seed=0)
    seen = [data.next_batch(4)[1] for _ in range(3)]
    assert data.epochs_completed == 1
    assert sorted(np.concatenate(seen[:2]).tolist() + seen[2][:2].tolist()) == list(range(10))


def test_fake_data():
    data = mnist.read_data_sets(None, fake_data=True)
    images, labels = data.train.next_batch(3, fake_data=True)
    assert len(images) == 3 and len(images[0]) == 784 and labels == [0, 0, 0]
