"""The ABI table (runtime/abi.py) says what runtime_c's header says, function by function."""

import re
from pathlib import Path

from graphc.runtime import abi

HEADER = Path(abi.__file__).resolve().parents[1] / "runtime_c" / "graphc_runtime.h"
_PROTOTYPE = re.compile(r"^\s*([\w ]+?\s*\*?)\s*(graphc_\w+)\(([^)]*)\);", re.MULTILINE)


def _without_name(argument: str) -> str:
    """`const char *format` -> `const char *`; `int64_t count` -> `int64_t`."""
    argument = " ".join(argument.split())
    if argument.endswith("*"):
        return argument
    words = argument.rsplit(" ", 1)
    type_, name = (words[0], words[1]) if len(words) == 2 else (argument, "")
    pointers = len(name) - len(name.lstrip("*"))
    return (type_ + " " + "*" * pointers).strip() if pointers else type_


def _header_functions() -> dict:
    text = re.sub(r"/\*.*?\*/", "", HEADER.read_text(), flags=re.DOTALL)
    functions = {}
    for result, name, arguments in _PROTOTYPE.findall(text):
        parts = [a for a in (p.strip() for p in arguments.split(",")) if a and a != "void"]
        functions[name] = abi.Function(name, " ".join(result.replace("*", " *").split()),
                                       tuple(_without_name(p) for p in parts))
    return functions


def test_every_runtime_function_is_in_the_table_as_declared():
    assert _header_functions() == abi.RUNTIME_FUNCTIONS


def test_status_layout_matches():
    text = HEADER.read_text()
    assert f"#define GRAPHC_STATUS_MESSAGE_BYTES {abi.STATUS_MESSAGE_BYTES}" in text
    assert "typedef void (*graphc_task)(void *context, int64_t index, int64_t thread);" in text


def test_cffi_reads_the_generated_declarations():
    import cffi

    ffi = cffi.FFI()
    ffi.cdef(abi.cdef(list(abi.RUNTIME_FUNCTIONS.values()) + abi.gemm_functions()) + abi.STEP_EXPORTS)
    assert ffi.sizeof("graphc_status") == 4 + abi.STATUS_MESSAGE_BYTES
    assert len({f.name for f in abi.gemm_functions()}) == 16  # f32, f64 x 4 layouts x (pool, one thread)
