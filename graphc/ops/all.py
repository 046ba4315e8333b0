"""Every op family, imported so that each registers its ops (the registry walk in the tests
and `graphc.compat.v1` rely on a complete registry)."""

# One family a line, so that adding one is a one-line change.
from graphc.ops import activation_ops  # noqa: F401
from graphc.ops import array_ops  # noqa: F401
from graphc.ops import candidate_sampling_ops  # noqa: F401
from graphc.ops import check_ops  # noqa: F401
from graphc.ops import collective_ops  # noqa: F401
from graphc.ops import contraction_ops  # noqa: F401
from graphc.ops import control_flow_ops  # noqa: F401
from graphc.ops import dataset_ops  # noqa: F401
from graphc.ops import conv_ops  # noqa: F401
from graphc.ops import elementary_ops  # noqa: F401
from graphc.ops import embedding_ops  # noqa: F401
from graphc.ops import gather_ops  # noqa: F401
from graphc.ops import init_ops  # noqa: F401
from graphc.ops import layout_ops  # noqa: F401
from graphc.ops import math_ops  # noqa: F401
from graphc.ops import logging_ops  # noqa: F401
from graphc.ops import nn_impl  # noqa: F401
from graphc.ops import nn_ops  # noqa: F401
from graphc.ops import random_ops  # noqa: F401
from graphc.ops import scan_ops  # noqa: F401
from graphc.ops import selection_ops  # noqa: F401
from graphc.ops import sequence_ops  # noqa: F401
from graphc.ops import state_ops  # noqa: F401
from graphc.ops import tensor_array_ops  # noqa: F401
from graphc.ops import string_ops  # noqa: F401
from graphc.ops import summary_ops  # noqa: F401
from graphc.ops import variable_scope  # noqa: F401
from graphc.ops import variables  # noqa: F401
