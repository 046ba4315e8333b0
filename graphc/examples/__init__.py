"""TF1's `tensorflow.examples` modules, so tutorial imports work with `graphc` in their place."""
