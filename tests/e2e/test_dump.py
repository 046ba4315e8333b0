"""`graphc dump` and GRAPHC_DUMP write the same numbered stage files through one code path."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = ROOT / "examples" / "tanh_regression.py"
STAGES = ["000_graph.txt", "001_lowered.txt", "002_fold_constants.txt", "003_simplify.txt",
          "004_eliminate_common_subexpressions.txt", "005_eliminate_dead_code.txt", "006_fuse.txt",
          "007_plan_memory.txt", "008_llvm.ll", "009_llvm_opt.ll", "010_asm.s"]


def listing(directory: Path):
    return {p.name: sorted(f.name for f in p.iterdir()) for p in directory.iterdir()}


def test_cli_and_environment_variable_write_the_same_files(tmp_path):
    env = dict(os.environ, MPLBACKEND="Agg")
    cli = subprocess.run([sys.executable, "-m", "graphc.cli", "dump", str(PROGRAM), "-o", str(tmp_path / "cli")],
                         capture_output=True, text=True, env=env)
    assert cli.returncode == 0, cli.stderr
    by_env = subprocess.run([sys.executable, str(PROGRAM)], capture_output=True, text=True,
                            env=dict(env, GRAPHC_DUMP=str(tmp_path / "env")))
    assert by_env.returncode == 0, by_env.stderr
    assert listing(tmp_path / "cli") == listing(tmp_path / "env")
    signatures = listing(tmp_path / "cli")
    assert len(signatures) == 4  # initializer, train step, prediction, loss
    assert all(files == STAGES for files in signatures.values())
    train_dir = next(d for d in (tmp_path / "cli").iterdir() if "GradientDescent" in d.name)
    assert "tanh_grad" in (train_dir / "007_plan_memory.txt").read_text()
    assert "i32 @\"graphc_step\"(" in (train_dir / "008_llvm.ll").read_text()


def test_cli_prints_one_stage(tmp_path):
    result = subprocess.run([sys.executable, "-m", "graphc.cli", "dump", str(PROGRAM), "--stage", "ir"],
                            capture_output=True, text=True, env=dict(os.environ, MPLBACKEND="Agg"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("_lowered.txt ====") == 4
    assert "program GradientDescent:" in result.stdout and "define" not in result.stdout
