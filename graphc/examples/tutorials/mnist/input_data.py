"""`input_data.read_data_sets`, reading the bundled MNIST files."""

from graphc.datasets.mnist import DataSet, Datasets, dense_to_one_hot, read_data_sets  # noqa: F401
