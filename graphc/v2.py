"""`import graphc.v2 as tf`: the TF2 API, eager by default (see graphc.compat.v2, graphc.eager)."""

from graphc.compat.v2 import *  # noqa: F401,F403 - the TF2 namespace
from graphc.compat.v2 import __all__  # noqa: F401
