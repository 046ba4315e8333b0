"""Constants of TF's activation kernels, shared by the op references (ops/activation_ops.py) and the
compiled code (backend/scalar_ops.py)."""

from __future__ import annotations

import numpy as np

# SELU's scale and scale * alpha (Klambauer et al., 2017), as TF's kernel has them.
SELU_SCALE = 1.0507009873554804934193349852946
SELU_SCALE_ALPHA = 1.7580993408473768599402175208123


def softplus_threshold(np_dtype) -> float:
    """TF's Softplus is x above -t and exp(x) below t, for t = log(epsilon) + 2 of the dtype (-13.94
    for float32): there log1p(exp(x)) rounds to those."""
    return float(np.log(np.finfo(np_dtype).eps) + 2)
