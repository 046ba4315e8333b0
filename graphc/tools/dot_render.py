"""DOT text to SVG or PNG through a Graphviz command line.

Graphviz's own `dot` is used when it is on PATH; otherwise `graphviz-pure`
(a self-contained port of `dot`, pip-installable: graphc's `pictures` extra),
found on PATH or beside the running Python (a venv that is not activated).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

RENDERERS = ("dot", "graphviz-pure")
FORMATS = ("svg", "png")


class RendererNotFoundError(RuntimeError):
    """No Graphviz command line to draw with."""


def find_renderer() -> str:
    """The path of the first of RENDERERS found; RendererNotFoundError if none is."""
    beside_python = str(Path(sys.executable).parent)
    for name in RENDERERS:
        path = shutil.which(name) or shutil.which(name, path=beside_python)
        if path:
            return path
    raise RendererNotFoundError(
        "drawing SVG or PNG needs Graphviz's `dot` command: install Graphviz (`apt-get install graphviz`) "
        "or `pip install graphviz-pure` (graphc's `pictures` extra); `--format dot` needs neither")


def render(dot_text: str, format: str) -> bytes:
    """The picture of `dot_text` in `format` ("svg" or "png")."""
    if format not in FORMATS:
        raise ValueError(f"cannot render {format!r}: the formats are {', '.join(FORMATS)}")
    renderer = find_renderer()
    result = subprocess.run([renderer, f"-T{format}"], input=dot_text.encode(), capture_output=True)
    if result.returncode != 0:
        raise RuntimeError(f"{renderer} -T{format} failed (exit {result.returncode}): "
                           f"{result.stderr.decode(errors='replace').strip()}")
    return result.stdout
