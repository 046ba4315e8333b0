"""The `graphc` command.

    graphc dump PROGRAM.py [--stage STAGE] [--format FORMAT] [-o DIR] [PROGRAM OPTIONS...]

runs a TF1 program with dumping on (exactly as `GRAPHC_DUMP=DIR python
PROGRAM.py` does) and shows every compiled signature's stages: the frontend
graph, the IR after lowering and after each pass, the LLVM IR before and
after optimization, and the assembly. `--format dot|svg|png` draws the
graph, ir and passes stages instead (graph_picture.py), beside their text.

    graphc inspect-checkpoint PATH [--values]

checks a checkpoint's header (PATH: its prefix, or its `.index` or
`.safetensors` file; TensorFlow's format or safetensors) and prints each
tensor's name, dtype, shape and size, reading no tensor; with --values it
reads the tensors one at a time, verifies their checksums and summarises their
values instead of the size.

    graphc run -np N PROGRAM.py [--oversubscribe] [--hostfile FILE] [--timeout S] [PROGRAM OPTIONS...]

runs the program on N MPI ranks through mpirun (launch.py; the [mpi] extra).

    graphc info

builds the per-machine libraries (C runtime, GEMM) into the cache if they are
not there yet, and prints what graphc compiles for: the host CPU, its vector
width, the GEMM blocking, the thread count and the cache directory.
"""

from __future__ import annotations

import argparse
import os
import runpy
import sys
import tempfile
from pathlib import Path

import numpy as np

from graphc import environment, errors
from graphc.backend import target
from graphc.backend.kernels import gemm
from graphc.compiler import driver
from graphc.compiler.dump import parse_graph_text
from graphc.core import dtypes
from graphc.ir.parser import parse
from graphc.runtime import cache, loader
from graphc.tools import dot_render, launch
from graphc.tools.graph_picture import graph_dot, program_dot
from graphc.train import checkpoint_formats, checkpoint_io, tensor_bundle

# --stage name -> which numbered files it selects (by their stage suffix).
STAGES = {
    "graph": lambda stem: stem == "graph",
    "ir": lambda stem: stem == "lowered",
    "passes": lambda stem: stem not in ("graph", "lowered", "llvm", "llvm_opt", "asm"),
    "llvm": lambda stem: stem == "llvm",
    "llvm-opt": lambda stem: stem == "llvm_opt",
    "asm": lambda stem: stem == "asm",
    "all": lambda stem: True,
}
DRAWN_STAGES = ("graph", "ir", "passes")
FORMATS = ("text", "dot") + dot_render.FORMATS


def _run_program(program: str, args: list, dump_dir: Path) -> int:
    os.environ["GRAPHC_DUMP"] = str(dump_dir)
    environment.reload()
    saved_argv = sys.argv
    sys.argv = [program] + args
    sys.path.insert(0, str(Path(program).resolve().parent))
    try:
        runpy.run_path(program, run_name="__main__")
    except SystemExit as exit_:
        code = exit_.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    finally:
        sys.argv = saved_argv
    return 0


def _stage_of(path: Path) -> str:
    return path.stem.split("_", 1)[1] if "_" in path.stem else path.stem


def _selected_files(dump_dir: Path, stage: str) -> list:
    keep = STAGES[stage]
    files = []
    for signature in sorted(p for p in dump_dir.iterdir() if p.is_dir()):
        for path in sorted(signature.iterdir()):
            if path.suffix in (".txt", ".ll", ".s") and keep(_stage_of(path)):
                files.append(path)
    return files


def _draw(path: Path, format: str) -> Path:
    """Writes the picture of the stage file `path` beside it (`000_graph.txt` -> `000_graph.svg`)."""
    text = path.read_text()
    if _stage_of(path) == "graph":
        dot = graph_dot(parse_graph_text(text), title=path.parent.name)
    else:
        dot = program_dot(parse(text))
    picture = path.with_suffix("." + format)
    if format == "dot":
        picture.write_text(dot)
    else:
        picture.write_bytes(dot_render.render(dot, format))
    return picture


def dump_command(options) -> int:
    if options.format != "text":
        if options.stage not in DRAWN_STAGES:
            print(f"graphc dump: --format {options.format} draws the graph, ir and passes stages; "
                  f"choose one with --stage", file=sys.stderr)
            return 2
        if options.format != "dot":
            try:
                dot_render.find_renderer()  # before the program runs, not after
            except dot_render.RendererNotFoundError as e:
                print(f"graphc dump: --format {options.format}: {e}", file=sys.stderr)
                return 2
    output = Path(options.output) if options.output else Path(tempfile.mkdtemp(prefix="graphc-dump-"))
    output.mkdir(parents=True, exist_ok=True)
    code = _run_program(options.program, options.args, output)
    files = _selected_files(output, options.stage)
    if options.format != "text":
        files = [_draw(path, options.format) for path in files]
    if options.output or options.format in dot_render.FORMATS:
        for path in files:
            print(path)
    else:
        for path in files:
            print(f"==== {path.parent.name}/{path.name} ====")
            print(path.read_text())
    if not files:
        print(f"graphc dump: {options.program} compiled no step", file=sys.stderr)
    return code


def _value_summary(array: np.ndarray) -> str:
    if array.size == 0:
        return "empty"
    if array.size <= 4:
        return "values " + np.array2string(array.reshape(-1), separator=", ")
    values = array.astype(np.float64)
    return f"min {values.min():.6g}  mean {values.mean():.6g}  max {values.max():.6g}"


def _checkpoint_row(reader, name: str, read_values: bool) -> tuple:
    """Name, dtype, shape and either the values' summary (the tensor read and verified) or the size."""
    entry = reader.entries[name]
    last = _value_summary(reader.read(name)) if read_values else f"{entry.nbytes} bytes"
    dtype = entry.dtype.name if entry.dtype is not None else entry.type_name
    return name, dtype, "[" + ",".join(map(str, entry.shape)) + "]", last


def inspect_checkpoint_command(options) -> int:
    prefix = options.path
    for suffix in (tensor_bundle.INDEX_SUFFIX, checkpoint_io.DATA_SUFFIX):
        if prefix.endswith(suffix) and os.path.isfile(prefix):
            prefix = prefix[:-len(suffix)]
    try:
        with checkpoint_formats.open_checkpoint(prefix) as reader:
            path = reader.path
            rows = [_checkpoint_row(reader, name, options.values) for name in sorted(reader.entries)]
    except (errors.NotFoundError, errors.PermissionDeniedError, errors.DataLossError, errors.UnimplementedError) as e:
        print(f"graphc inspect-checkpoint: {e}", file=sys.stderr)
        return 1
    widths = [max((len(row[i]) for row in rows), default=0) for i in range(3)]
    if options.values:
        print(f"{path}: {len(rows)} tensors, checksums verified")
    else:
        print(f"{path}: {len(rows)} tensors (header checked; --values to read and verify them)")
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[3])
    return 0


def info_command(options) -> int:
    driver.load_runtime()
    triple, cpu, _ = target.host()
    blocking = gemm.blocking(dtypes.float32)
    print(f"host: {triple}, CPU {cpu}, {8 * target.vector_bytes()}-bit vectors, "
          f"FMA {'yes' if target.has_fma() else 'no'}")
    print(f"float32 GEMM: {blocking.mr}x{blocking.nr} micro-kernel, blocks MC={blocking.mc} KC={blocking.kc} "
          f"NC={blocking.nc}")
    print(f"threads: {loader.num_threads()} (GRAPHC_NUM_THREADS)")
    print(f"cache: {cache.cache_dir()} (GRAPHC_CACHE_DIR); runtime and GEMM libraries ready")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="graphc", description="graphc: TF1 graphs compiled through LLVM")
    commands = parser.add_subparsers(dest="command", required=True)
    dump = commands.add_parser("dump", help="run a program and show every compilation stage")
    dump.add_argument("program", help="a Python program using `import graphc as tf`")
    dump.add_argument("--stage", choices=sorted(STAGES), default="all", help="which stage to show (default: all)")
    dump.add_argument("--format", choices=FORMATS, default="text",
                      help="text (default), or draw the graph, ir or passes stage: dot, svg, png "
                           "(svg and png need Graphviz's dot or graphviz-pure)")
    dump.add_argument("-o", "--output", help="write the numbered files here (default: print them)")
    inspect = commands.add_parser("inspect-checkpoint", help="list a checkpoint's tensors from its header")
    inspect.add_argument("path", help="a checkpoint prefix (dir/model.ckpt-1000), or its .index or .safetensors file")
    inspect.add_argument("--values", action="store_true",
                         help="also read each tensor, verify its checksum and summarise its values")
    commands.add_parser("info", help="build the per-machine libraries and describe the host")
    run = commands.add_parser("run", help="run a program on N MPI ranks through mpirun (the [mpi] extra)")
    run.add_argument("-np", type=int, required=True, help="the number of ranks (processes)")
    run.add_argument("--oversubscribe", action="store_true", help="allow more ranks than cores")
    run.add_argument("--hostfile", help="an Open MPI hostfile: the machines to run on")
    run.add_argument("--timeout", type=int, help="abort the whole job after this many seconds")
    run.add_argument("program", help="a Python program, e.g. one using `import graphc.horovod as hvd`")
    # Options graphc does not know are the program's own (`--max_steps 3`).
    options, options.args = parser.parse_known_args(argv)
    if options.command == "dump":
        return dump_command(options)
    if options.command == "run":
        return launch.run_command(options)
    if options.args:
        parser.error(f"unrecognized arguments: {' '.join(options.args)}")
    if options.command == "inspect-checkpoint":
        return inspect_checkpoint_command(options)
    return info_command(options)


if __name__ == "__main__":
    sys.exit(main())
