"""TF1 tutorial support modules."""
