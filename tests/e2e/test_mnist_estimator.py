"""examples/mnist_estimator.py, the Estimator tutorial's CNN, trained and evaluated through
`tf.estimator.inputs.numpy_input_fn` (graphc.data's datasets), in this process."""

import ast
import runpy
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "mnist_estimator.py"


@pytest.fixture
def run_example(monkeypatch, capsys):
    """Runs the example with arguments; its printed evaluation dict."""

    def run(*args):
        monkeypatch.setattr(sys, "argv", [str(EXAMPLE), *args])
        runpy.run_path(str(EXAMPLE), run_name="__main__")
        printed = capsys.readouterr().out.strip().splitlines()[-1]
        return ast.literal_eval(printed.replace("np.float32(", "(").replace("np.int64(", "("))

    return run


@pytest.mark.slow  # a large CNN compiled and evaluated on 10,000 images twice: 45 s
def test_the_example_trains_evaluates_and_resumes(run_example, tmp_path):
    results = run_example("--steps", "3", "--model_dir", str(tmp_path))
    assert sorted(results) == ["accuracy", "global_step", "loss"] and results["global_step"] == 3
    assert 0.0 <= results["accuracy"] <= 1.0
    assert run_example("--steps", "2", "--model_dir", str(tmp_path))["global_step"] == 5


@pytest.mark.slow
def test_the_example_reaches_the_tutorial_accuracy(run_example, tmp_path):
    results = run_example("--steps", "2000", "--learning_rate", "0.05", "--model_dir", str(tmp_path))
    print("evaluation:", results)  # for the record (pytest -rP shows it)
    assert results["global_step"] == 2000
    assert results["accuracy"] >= 0.97  # the tutorial's 97.3% after 20,000 steps at 0.001
