"""`graphc dump` and GRAPHC_DUMP write the same numbered stage files through one code path."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = ROOT / "examples" / "tanh_regression.py"
PASS_STAGES = ["fold_constants", "simplify", "transpose_short_rows", "eliminate_common_subexpressions",
               "eliminate_dead_code", "place_free_computations", "fuse", "plan_memory"]


def stages(passes=PASS_STAGES) -> list:
    """The numbered files of a signature whose program each of `passes` changed (a pass that changes
    nothing leaves no file: the initializer has no short rows to transpose)."""
    names = ["graph.txt", "lowered.txt"] + [f"{name}.txt" for name in passes] + ["llvm.ll", "llvm_opt.ll", "asm.s"]
    return [f"{number:03d}_{name}" for number, name in enumerate(names)]


STAGES = stages()
UNTRANSPOSED = stages([name for name in PASS_STAGES if name != "transpose_short_rows"])


def listing(directory: Path):
    return {p.name: sorted(f.name for f in p.iterdir()) for p in directory.iterdir()}


def test_cli_and_environment_variable_write_the_same_files(tmp_path):
    env = dict(os.environ, MPLBACKEND="Agg")
    cli = subprocess.run([sys.executable, "-m", "graphc.tools.cli", "dump", str(PROGRAM), "-o", str(tmp_path / "cli")],
                         capture_output=True, text=True, env=env)
    assert cli.returncode == 0, cli.stderr
    by_env = subprocess.run([sys.executable, str(PROGRAM)], capture_output=True, text=True,
                            env=dict(env, GRAPHC_DUMP=str(tmp_path / "env")))
    assert by_env.returncode == 0, by_env.stderr
    assert listing(tmp_path / "cli") == listing(tmp_path / "env")
    signatures = listing(tmp_path / "cli")
    assert len(signatures) == 4  # initializer, train step, prediction, loss
    assert all(files == (UNTRANSPOSED if name.endswith("_init") else STAGES) for name, files in signatures.items())
    train_dir = next(d for d in (tmp_path / "cli").iterdir() if "GradientDescent" in d.name)
    assert "tanh_grad" in (train_dir / "009_plan_memory.txt").read_text()
    assert "i32 @\"graphc_step\"(" in (train_dir / "010_llvm.ll").read_text()


def test_cli_prints_one_stage(tmp_path):
    result = subprocess.run([sys.executable, "-m", "graphc.tools.cli", "dump", str(PROGRAM), "--stage", "ir"],
                            capture_output=True, text=True, env=dict(os.environ, MPLBACKEND="Agg"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("_lowered.txt ====") == 4
    assert "program GradientDescent:" in result.stdout and "define" not in result.stdout


SCOPED_PROGRAM = '''
import numpy as np
import graphc as tf

x = tf.placeholder(tf.float32, (8, 3), name="x")
with tf.variable_scope("layer"):
    w = tf.get_variable("w", (3, 1), initializer=tf.zeros_initializer())
    y = tf.nn.relu(tf.matmul(x, w))
loss = tf.reduce_mean(tf.square(y - 1.0))
train = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    sess.run(train, {x: np.ones((8, 3), np.float32)})
'''


def run_cli(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "graphc.tools.cli", "dump", *map(str, args)],
                          capture_output=True, text=True, **kwargs)


def test_cli_draws_the_graph_and_the_fused_kernels(tmp_path):
    program = tmp_path / "scoped.py"
    program.write_text(SCOPED_PROGRAM)
    graph = run_cli(program, "--stage", "graph", "--format", "dot")
    assert graph.returncode == 0, graph.stderr
    assert graph.stdout.count("_graph.dot ====") == 2  # initializer, training step
    assert 'subgraph "cluster_layer" {' in graph.stdout and '"layer/MatMul" [' in graph.stdout
    passes = run_cli(program, "--stage", "passes", "--format", "svg", "-o", tmp_path / "out")
    assert passes.returncode == 0, passes.stderr
    pictures = [Path(line) for line in passes.stdout.split()]
    assert [p.name for p in pictures if "GradientDescent" in p.parent.name] == [
        name.replace(".txt", ".svg") for name in UNTRANSPOSED[2:-3]]  # 8 rows: too few to transpose
    fuse_stage = next(name for name in UNTRANSPOSED if name.endswith("_fuse.txt"))
    fused = next(p for p in pictures
                 if "GradientDescent" in p.parent.name and p.name == fuse_stage.replace(".txt", ".svg"))
    kernels = re.findall(r"^  (kernel \d+ \w+):$", (fused.parent / fuse_stage).read_text(), re.MULTILINE)
    svg = fused.read_text()
    assert len(kernels) >= 2 and all(f">{kernel}</text>" in svg for kernel in kernels)
    assert svg.count('class="cluster"') == len(kernels)


def test_svg_without_graphviz_names_what_to_install(tmp_path, monkeypatch, capsys):
    from graphc.tools import cli

    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    # The program is never run: the missing renderer is found out first.
    assert cli.main(["dump", str(tmp_path / "never_run.py"), "--stage", "graph", "--format", "png"]) == 2
    message = capsys.readouterr().err
    assert "Graphviz's `dot`" in message and "pip install graphviz-pure" in message


def test_only_graph_ir_and_passes_stages_are_drawn(capsys):
    from graphc.tools import cli

    assert cli.main(["dump", str(PROGRAM), "--stage", "llvm", "--format", "dot"]) == 2
    assert "draws the graph, ir and passes stages" in capsys.readouterr().err
