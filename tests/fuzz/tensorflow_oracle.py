"""TensorFlow as the fuzzer's second oracle: the same random graph run by TF 2.21, compared with graphc's.

`TensorFlowWorker` keeps one child process (tests/fuzz/tensorflow_worker.py)
that builds each graph from its description (tests/fuzz/graph_description.py)
with tensorflow.compat.v1 and runs it: TF's LLVM and llvmlite's must not share
a process. `compare` judges graphc's compiled values against TF's:

* NaN exactly where TF has NaN, infinities equal, and where both are zero, the
  same sign (1 / x shows it);
* other values within a dtype's tolerance plus the element's conditioning:
  how far the reference moved between float widths (the twin) and when the
  float inputs were perturbed by a few units in the last place (`movement`: so
  a sum of 1e30, -1e30 and 1, whose every order is right, is excused where it
  occurs; the comparison with the reference allows that movement too);
* a reduction over a long input (10^5 - 10^6 values in [1000, 1001]) with no
  slack: graphc must be within `LONG_REDUCTION_RTOL` of the exact value (the
  float64 reference) or no further from it than TF;
* where graphc is no further than TF from the float64 reference of a float32
  graph, TF is the one that is off (its float32 column sums, its overflowing
  intermediates), not graphc.

Legitimate differences are listed in tests/fuzz/tensorflow_differences.py.
"""

from __future__ import annotations

import importlib.util
import pickle
import struct
import subprocess
import sys
from pathlib import Path
from typing import Optional

import numpy as np

_ROOT = Path(__file__).resolve().parent.parent.parent
INSTALL_HINT = "the [tf-oracle] extra: pip install -e '.[tf-oracle]' (`make fuzz-tf` installs it)"

# (rtol, atol) against TF. float32: TF's Eigen kernels (tanh, sigmoid, exp: their own polynomials) and its
# reduction orders differ from graphc's by a few ulp, and a few ulp become 1e-5 after cancellation.
TOLERANCE = {np.dtype(np.float32): (1e-4, 1e-6), np.dtype(np.float64): (1e-9, 1e-12)}
LONG_REDUCTION_RTOL = {np.dtype(np.float32): 1e-6, np.dtype(np.float64): 1e-12}
# The relative perturbation of float feeds for the conditioning run (a float64 reference run), per
# compiled dtype: a few units in the last place of float32; for float64, 2^-40 (still 1,000 times below its
# rtol), because the run itself computes in float64: moves of a few float64 ulps, 1.0-1.25 units each, often
# rounded 1e30 and -1e30 to exact negatives of each other (22% of 400 draws), so a sum of 1e30, -1e30 and
# small values did not move and its order-dependent answer (0, or the small values' sum) looked exact.
PERTURBATION = {np.dtype(np.float32): 2.0 ** -22, np.dtype(np.float64): 2.0 ** -40}
CONDITIONING_SCALE = 4.0  # how much of the perturbed run's movement is allowed


def tensorflow_installed() -> bool:
    """Whether `import tensorflow` would work (checked without importing it here)."""
    return importlib.util.find_spec("tensorflow") is not None


class WorkerFailed(RuntimeError):
    """The TensorFlow worker died or answered nonsense (a harness problem, not a mismatch)."""


class TensorFlowWorker:
    """One long-lived TensorFlow process; `run` sends it a graph and the feeds of each run."""

    def __init__(self):
        self._process: Optional[subprocess.Popen] = None
        self.version: Optional[str] = None

    def _start(self) -> None:
        self._process = subprocess.Popen([sys.executable, "-m", "tests.fuzz.tensorflow_worker"], cwd=_ROOT,
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL)
        self.version = self._receive()["ready"]

    def run(self, description: dict, runs: list) -> dict:
        """TF's answer: {"runs": [{"values", "variables"} or {"error": (class, message)}]} or {"refused":
        traceback} when TF would not build the graph."""
        if self._process is None or self._process.poll() is not None:
            self._start()
        data = pickle.dumps({"graph": description, "runs": runs}, protocol=pickle.HIGHEST_PROTOCOL)
        try:
            self._process.stdin.write(struct.pack("<Q", len(data)) + data)
            self._process.stdin.flush()
            return self._receive()
        except (OSError, WorkerFailed) as error:
            self.close()
            raise WorkerFailed(f"the TensorFlow worker died: {error}") from error

    def _receive(self):
        header = self._process.stdout.read(8)
        if len(header) < 8:
            raise WorkerFailed(f"the TensorFlow worker exited with status {self._process.wait()}")
        (length,) = struct.unpack("<Q", header)
        return pickle.loads(self._process.stdout.read(length))

    def close(self) -> None:
        """Ends the worker (it exits when its stdin closes)."""
        if self._process is not None:
            self._process.stdin.close()
            self._process.wait(timeout=60)
            self._process = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def movement(reference64, perturbed64) -> np.ndarray:
    """Per element, `CONDITIONING_SCALE` times how far the float64 reference moved when its float inputs
    were perturbed (`PERTURBATION`); inf where one of the two is NaN and the other not."""
    r64, p64 = np.asarray(reference64, np.float64), np.asarray(perturbed64, np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        moved = np.where((r64 == p64) | (np.isnan(r64) & np.isnan(p64)), 0.0, CONDITIONING_SCALE * np.abs(r64 - p64))
        return np.where(np.isnan(moved), np.inf, moved)


def compare(name: str, compiled, answer, slack, long_reduction: bool = False, zero_signs: bool = True,
            truth=None, excused=None) -> Optional[str]:
    """Why graphc's `compiled` value is not TensorFlow's `answer`, or None (see the module docstring).
    zero_signs: whether a zero must have TF's sign (not for gradients: tensorflow_differences.py). truth: a
    more precise value (the float64 reference of a float32 graph): where graphc's value is that value, or
    graphc's finite value is no further from it than TF's, or TF's is NaN and graphc's is near it, TF is the
    one that is off
    (tensorflow_differences.TENSORFLOW_LESS_ACCURATE). excused: a mask of elements whose difference is
    explained otherwise (`explained_by_subnormals`)."""
    compiled, answer = np.asarray(compiled), np.asarray(answer)
    if compiled.shape != answer.shape or compiled.dtype != answer.dtype:
        return f"{name}: graphc {compiled.dtype}{compiled.shape}, TensorFlow {answer.dtype}{answer.shape}"
    if compiled.size == 0:
        return None
    c, a = compiled.astype(np.float64), answer.astype(np.float64)
    if compiled.dtype.kind == "f":  # tensorflow_differences.SUBNORMALS: TF's results have none
        c = np.where(np.abs(c) < np.finfo(compiled.dtype).tiny, np.copysign(0.0, c), c)
    rtol, atol = TOLERANCE.get(compiled.dtype, (0.0, 0.0))
    if long_reduction:
        rtol, slack = LONG_REDUCTION_RTOL[compiled.dtype], np.zeros_like(c)
    slack = np.broadcast_to(slack, c.shape)
    truth = np.full(c.shape, np.nan) if truth is None else np.asarray(truth, np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        same = (c == a) | (np.isnan(c) & np.isnan(a))
        close = (np.abs(c - a) <= atol + rtol * np.abs(a) + slack) & np.isfinite(c - a)  # inf only equals inf
        if long_reduction:  # as accurate as TF, or to rtol of the exact value
            close = np.abs(c - truth) <= np.abs(a - truth) + rtol * np.abs(truth)
        near_truth = np.abs(c - truth) <= atol + rtol * np.abs(truth) + slack
        closer = np.isfinite(c) & ((np.abs(c - truth) <= np.abs(a - truth)) | (np.isnan(a) & near_truth))
        closer |= c == truth  # graphc's value is the exact one, an infinite one too
        zero_signs_differ = (c == 0) & (a == 0) & (np.signbit(c) != np.signbit(a)) & zero_signs
        ok = ((same | close | closer) & ~zero_signs_differ) | np.isinf(slack)
        if excused is not None:
            ok |= np.broadcast_to(excused, ok.shape)
    if ok.all():
        return None
    index = tuple(int(i) for i in np.argwhere(~ok)[0])
    return (f"{name}: {np.count_nonzero(~ok)} of {c.size} elements differ from TensorFlow; first at {index}: "
            f"graphc {compiled[index]!r}, TensorFlow {answer[index]!r} (allowed difference {slack[index]:.3g} + "
            f"rtol {rtol:g})")


def explained_by_subnormals(reference, flushed, answer, slack) -> np.ndarray:
    """Per element, whether flushing subnormals to zero (TF's CPU modes, tensorflow_differences.SUBNORMALS)
    explains TF's `answer`: the reference run that flushes them (`flushed`) differs from the one that does
    not (`reference`), value or zero sign, and TF's answer is the flushed one's."""
    r, f, a = (np.asarray(v).astype(np.float64) for v in (reference, flushed, answer))
    rtol, atol = TOLERANCE.get(np.asarray(reference).dtype, (0.0, 0.0))
    with np.errstate(invalid="ignore", over="ignore"):
        def agree(x, y):
            both_nan = np.isnan(x) & np.isnan(y)
            equal = (x == y) & (np.signbit(x) == np.signbit(y))
            near = (np.abs(x - y) <= atol + rtol * np.abs(y) + slack) & np.isfinite(x - y) & (x != 0)
            return both_nan | equal | near
        return ~agree(f, r) & agree(f, a)
