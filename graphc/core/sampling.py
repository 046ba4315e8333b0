"""The log-uniform candidate sampler's arithmetic, shared by its reference (ops/candidate_sampling_ops.py)
and its kernel (backend/kernels/random.py)."""

from __future__ import annotations

import numpy as np


def sampler_pool_size(num_sampled: int) -> int:
    """How many uniforms one run of the sampler may use (its kernel's workspace holds them)."""
    return 8 * num_sampled + 256


def log_uniform_ids(uniforms: np.ndarray, range_max: int) -> np.ndarray:
    """TF's LogUniformSampler: floor(exp(u * log(range_max + 1))) - 1, in [0, range_max)."""
    ids = np.floor(np.exp(uniforms * np.log1p(float(range_max)))).astype(np.int64) - 1
    return np.minimum(ids, range_max - 1)
