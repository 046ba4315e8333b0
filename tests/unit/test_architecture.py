"""The architecture holds: import contracts kept, no import cycle, the IR and passes load without LLVM."""

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_are_kept_with_no_ignored_edges():
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    assert contracts and not any("ignore_imports" in contract for contract in contracts)
    result = subprocess.run([Path(sys.executable).parent / "lint-imports", "--no-cache", "--no-logo"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def _strongly_connected_components(graph) -> list:
    """Tarjan's algorithm, iterative: the components of more than one module."""
    index, low, on_stack, stack, components = {}, {}, set(), [], []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            module, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[module] = min(low[module], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[module])
            if low[module] == index[module]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == module:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def test_no_import_cycle_function_local_imports_included():
    graph = grimp.build_graph("graphc", include_external_packages=False, cache_dir=None)
    assert _strongly_connected_components(graph) == []


def _modules_loaded_by(statement: str) -> set:
    code = f"import sys\n{statement}\nprint('\\n'.join(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)))
    return set(result.stdout.split())


def test_the_ir_loads_alone():
    loaded = _modules_loaded_by("import graphc.ir.program")
    assert "llvmlite" not in loaded and "cffi" not in loaded
    assert not {m for m in loaded if m.startswith(("graphc.frontend", "graphc.ops", "graphc.backend"))}


def test_passes_and_the_graph_api_load_without_llvm():
    assert "llvmlite" not in _modules_loaded_by("import graphc.passes.pipeline")
    api = _modules_loaded_by("import graphc as tf\ntf.placeholder(tf.float32, [2]) + 1")
    assert "llvmlite" not in api and "graphc.compiler.driver" not in api


@pytest.mark.parametrize("module", ["graphc.errors", "graphc.ops.math_ops", "graphc.ops.nn_ops", "graphc.train.saver",
                                    "graphc.layers.core", "graphc.keras.models", "graphc.session",
                                    "graphc.runtime.executable", "graphc.compiler.driver", "graphc.tools.cli"])
def test_any_module_imports_first(module):
    """`from graphc import errors` inside a module must import that submodule, not the whole TF1
    namespace (which may be importing the module right now)."""
    loaded = _modules_loaded_by(f"import {module}")
    assert module in loaded
