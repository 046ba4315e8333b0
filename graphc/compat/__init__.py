"""TensorFlow's compatibility namespaces: `graphc.compat.v1` is the TF1 API."""
