"""The example programs run as they are (subprocesses, as a user would run them)."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_example(name, *args, **env):
    environment = dict(os.environ, MPLBACKEND="Agg", **env)
    result = subprocess.run([sys.executable, str(ROOT / "examples" / name), *args], capture_output=True, text=True,
                            env=environment, cwd=ROOT, timeout=600)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_fully_connected_feed_trains(tmp_path):
    output = run_example("fully_connected_feed.py", "--max_steps", "300", "--log_dir", str(tmp_path / "logs"))
    losses = [float(v) for v in re.findall(r"Step \d+: loss = ([\d.]+)", output)]
    assert len(losses) == 3 and losses[-1] < losses[0]
    precision = float(re.findall(r"Precision @ 1: ([\d.]+)", output)[-1])
    assert "Test Data Eval:" in output and precision > 0.5


def test_fully_connected_feed_with_fake_data(tmp_path):
    output = run_example("fully_connected_feed.py", "--fake_data", "--max_steps", "10", "--log_dir",
                         str(tmp_path / "logs"))
    assert "Num examples: 10000  Num correct: 10000" in output


def test_tanh_regression_fits():
    output = run_example("tanh_regression.py")
    assert float(re.search(r"final loss: ([\d.]+)", output).group(1)) < 0.01
