"""Data parallelism over MPI. Synchronous (graphc.horovod): N ranks on batch b each make the updates of one
process on batch N*b, and the collective ops agree with the reference interpreter. Asynchronous
(graphc.distribute): no push to the parameter server is lost, and 2 workers reach the accuracy of one.
A killed rank ends the job instead of hanging it, and MPI stays optional.

The MPI tests start `graphc run -np 2` (mpirun) themselves on loopback, bounded in time, and skip only
when mpi4py (the [mpi] extra) is not installed.
"""

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.e2e.mpi_programs import data_parallel

ROOT = Path(__file__).resolve().parents[2]
PROGRAMS = Path(__file__).resolve().parent / "mpi_programs"
MPI_TIMEOUT = 300  # seconds; a cold compile cache on a loaded 2-core machine takes most of it


def _require_mpi():
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        pytest.skip("needs mpi4py and Open MPI: the [mpi] extra (pip install -e '.[mpi]'; make test installs it)")


def run_ranks(processes: int, program: Path, *args, timeout=MPI_TIMEOUT, launcher=()) -> subprocess.CompletedProcess:
    """`graphc run -np N program args` with the repository importable; the whole process group is killed
    if it outlives `timeout` seconds, so a hung rank fails the test instead of hanging it."""
    _require_mpi()
    environment = dict(os.environ, PYTHONPATH=str(ROOT), GRAPHC_NUM_THREADS="1")
    command = [sys.executable, "-m", "graphc.tools.cli", "run", "-np", str(processes), "--oversubscribe",
               *launcher, str(program), *map(str, args)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                               env=environment, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"{program.name} on {processes} ranks did not finish in {timeout} s")
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    """What data_parallel.py saved on each of 2 ranks."""
    out = tmp_path_factory.mktemp("ranks")
    result = run_ranks(2, PROGRAMS / "data_parallel.py", out)
    assert result.returncode == 0, result.stdout + result.stderr
    return [dict(np.load(out / f"rank{rank}.npz")) for rank in range(2)]


def test_import_graphc_never_imports_mpi():
    code = ("import sys, graphc as tf, graphc.horovod as hvd; tf.Session; tf.train.GradientDescentOptimizer; "
            "assert 'mpi4py' not in sys.modules, 'mpi4py imported'")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert result.returncode == 0, result.stderr


def test_ranks_know_the_world(two_ranks):
    for rank, saved in enumerate(two_ranks):
        assert saved["size"] == 2 and saved["rank"] == rank
        assert saved["local"].tolist() == [2, rank]  # both on this machine


@pytest.mark.parametrize("optimizer", sorted(data_parallel.OPTIMIZERS))
def test_two_ranks_on_half_batches_update_as_one_process_on_the_whole(two_ranks, optimizer):
    single = data_parallel.train(slice(None), optimizer)
    for name, expected in single.items():
        first, second = (saved[f"{optimizer}:{name}"] for saved in two_ranks)
        np.testing.assert_array_equal(first, second, err_msg=f"ranks disagree on {name}")
        np.testing.assert_allclose(first, expected, rtol=1e-5, atol=1e-6, err_msg=name)


def test_the_fused_gradient_buffer_is_built_and_read_without_copies(two_ranks):
    for saved in two_ranks:
        assert saved["allreduces"] == 1 and saved["copies"].tolist() == []


# hvd.allreduce (Average, Sum), allgather, broadcast(root 1), integer Sum and allgather, and the gradient
# of sum(allgather(x)^2) (4x: each rank's rows reach both ranks), with rank r feeding x + 10r, [r, 1, 2^40].
X = np.arange(6.0).reshape(2, 3)
EXPECTED = [X + 5, 2 * X + 10, np.concatenate([X, X + 10]), X + 10, [1, 2, 2 ** 41],
            [0, 1, 2 ** 40, 1, 1, 2 ** 40]]


def test_collective_ops_compiled_agree_with_the_interpreter_and_the_arithmetic(two_ranks):
    for rank, saved in enumerate(two_ranks):
        expected = EXPECTED + [4 * (X + 10 * rank)]
        for index, value in enumerate(expected):
            np.testing.assert_array_equal(saved[f"compiled:{index}"], value, err_msg=f"rank {rank} fetch {index}")
            np.testing.assert_array_equal(saved[f"interpreted:{index}"], value, err_msg=f"rank {rank} fetch {index}")


@pytest.mark.slow  # a minute on 2 idle cores
def test_mnist_horovod_example_reaches_the_single_process_accuracy_in_one_epoch():
    result = run_ranks(2, ROOT / "examples" / "mnist_horovod.py", timeout=3600)
    assert result.returncode == 0, result.stdout + result.stderr
    checksums = dict(re.findall(r"rank (\d) of 2: weight checksum (\S+)", result.stdout))
    assert sorted(checksums) == ["0", "1"] and checksums["0"] == checksums["1"], result.stdout
    # examples/mnist_cnn.py, one process, reaches 0.97 in one epoch (test_examples.py); 2 ranks: 0.9765
    assert float(re.search(r"Test accuracy: ([\d.]+)", result.stdout).group(1)) >= 0.97


def test_a_killed_rank_stops_the_job_instead_of_hanging_it():
    result = run_ranks(2, PROGRAMS / "rank_dies.py", timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "finished 1000 steps" not in output, output
    assert re.search(r"rank 1 .* exited on\s+signal 9", output), output


@pytest.mark.slow  # waits out the job's time limit
def test_a_stalled_rank_ends_the_job_at_the_launchers_time_limit():
    result = run_ranks(2, PROGRAMS / "rank_dies.py", "stall", timeout=300, launcher=("--timeout", "60"))
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "execution time limit" in output, output


# -- asynchronous: the parameter server of graphc.distribute ------------------------------------------

def _async_expectation(steps_per_worker: list, momentum: float) -> float:
    """How far the shared parameters move per unit of a constant gradient when every push lands: each
    worker's k-th push is lr * (1 - momentum^k) / (1 - momentum) units (momentum 0: SGD)."""
    return sum(sum((1 - momentum ** k) / (1 - momentum) if momentum else 1.0 for k in range(1, steps + 1))
               for steps in steps_per_worker)


def test_async_workers_lose_no_push(tmp_path):
    from tests.e2e.mpi_programs import async_updates

    result = run_ranks(2, PROGRAMS / "async_updates.py", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    steps = [async_updates.STEPS, async_updates.STEPS + 10]
    for saved in (np.load(tmp_path / f"rank{rank}.npz") for rank in range(2)):  # every rank: the final shared values
        for name, momentum in (("sgd", 0.0), ("momentum", 0.9)):
            moved = 0.01 * _async_expectation(steps, momentum)
            np.testing.assert_allclose(saved[f"{name}_w"], 1 - moved * async_updates.GRADIENT, rtol=1e-5)
            np.testing.assert_allclose(saved[f"{name}_b"], np.full(3, -moved), rtol=1e-5)


def test_a_killed_async_worker_stops_the_job_instead_of_hanging_it(tmp_path):
    result = run_ranks(2, PROGRAMS / "async_updates.py", tmp_path, "kill", timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and not list(tmp_path.iterdir()), output
    assert re.search(r"rank 1 .* exited on\s+signal 9", output), output


def _async_mnist_accuracy(processes: int) -> float:
    result = run_ranks(processes, ROOT / "examples" / "mnist_async.py")
    assert result.returncode == 0, result.stdout + result.stderr
    accuracies = {float(a) for a in re.findall(r"of \d+: Test accuracy: ([\d.]+)", result.stdout)}
    assert len(accuracies) == 1, result.stdout  # every rank holds the final shared parameters
    return accuracies.pop()


def test_async_mnist_on_two_workers_reaches_the_single_process_accuracy():
    single, two = _async_mnist_accuracy(1), _async_mnist_accuracy(2)
    assert single > 0.94  # one epoch of the tutorial MLP, momentum
    assert two >= single - 0.01
