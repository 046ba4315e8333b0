"""graphc: TensorFlow-1 graphs compiled to native code through LLVM.

`import graphc as tf` and a TF1 program runs: build a graph, then
`tf.Session().run(fetches, feed_dict)` compiles each signature once and runs it
as one native call.

This package's namespace is the TF1 API of `graphc.compat.v1`, loaded on first
use: `import graphc.ir.program` (a compiler tool, a test of the IR) loads the
IR and nothing of the graph frontend, the op library or LLVM.
"""

import importlib
import importlib.util

__version__ = "0.1.0"


def _api():
    from graphc.compat import v1

    return v1


def __getattr__(name):
    """A submodule of graphc (`graphc.errors`, `tf.nn`), or else a name of the TF1 API (graphc.compat.v1),
    whose whole namespace loads with the first such name."""
    if importlib.util.find_spec(f"{__name__}.{name}") is not None:
        # `from graphc import errors` asks for the attribute before importing the submodule: it must
        # not load the whole API, which may be what is importing graphc.errors right now.
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        value = getattr(_api(), name)  # AttributeError names graphc
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | {name for name in dir(_api()) if not name.startswith("_")})
