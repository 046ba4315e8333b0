"""`tensorflow.examples.tutorials.mnist`: `input_data` and the tutorial's `mnist` model."""
