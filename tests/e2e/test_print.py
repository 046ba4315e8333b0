"""`tf.print`: eager code prints at once, a tf.function's prints run at each call in order, a TF1 graph's
PrintV2 op prints when it runs (fetched, or through a control dependency); stderr by default.

`eager_programs/printing.py` runs under graphc and, when installed, TensorFlow 2: both must print the same
(TF 2.21's output pinned). The TF1 graph case is checked against TF 1.15's behaviour (written here).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

import graphc
from graphc.ops.logging_ops import format_tensor
from tests import tf_oracle

PROGRAM = Path(__file__).parent / "eager_programs" / "printing.py"

TF_OUTPUT = """\
[1 2 3]
[[1 2.5]
 [3 4]]
loss: 0.123456791 7
[0 1 2 ... 7 8 9]
[[0 1 2 ... 7 8 9]
 [10 11 12 ... 17 18 19]
 [20 21 22 ... 27 28 29]
 ...
 [70 71 72 ... 77 78 79]
 [80 81 82 ... 87 88 89]
 [90 91 92 ... 97 98 99]]
[0 1 2 3 4 5 6 7 8 9]
1e-08 123456792 1 [1 0]
{'a': [1 2]} [1.5, 's'] ([0.5 -1],)
a-b!
0.66666666666666663 0.666666687 nan -inf
in f [1 2]
y [2 4]
r [2 4]
in f [3 4]
y [6 8]
r [6 8]
loss 9
grad 6
"""


test_graphc_prints_what_tensorflow_2_21_prints, test_tensorflow_2_21_prints_the_pinned_output = \
    tf_oracle.program_tests(PROGRAM, TF_OUTPUT)


def test_print_writes_to_stderr_by_default():
    result = tf_oracle.run_program(PROGRAM)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr.splitlines()[-1] == "to stderr"


def test_graph_print_op_prints_when_run_or_depended_on(capsys):
    graph = graphc.Graph()
    with graph.as_default():
        x = graphc.placeholder(graphc.float32, [3])
        printed = graphc.print("x is", x, output_stream=sys.stdout)
        with graphc.control_dependencies([printed]):
            y = x * 2
        z = x + 1  # no dependency: prints nothing
        with graphc.Session() as session:
            assert session.run(printed, {x: [1, 2, 3]}) is None
            assert session.run(y, {x: [4, 5, 6]}).tolist() == [8, 10, 12]
            session.run(z, {x: [7, 8, 9]})
    assert printed.type == "PrintV2" and printed.outputs == ()
    assert capsys.readouterr().out == "x is [1 2 3]\nx is [4 5 6]\n"


def test_graph_print_writes_to_stderr_by_default(capsys):
    graph = graphc.Graph()
    with graph.as_default(), graphc.Session() as session:
        session.run(graphc.print("value", graphc.constant([[1.5, 2.0]])))
    assert capsys.readouterr().err == "value [[1.5 2]]\n"


def test_unsupported_streams_are_refused():
    with pytest.raises(ValueError, match="Unsupported output stream"):
        graphc.print("x", output_stream=open(os.devnull, "w"))  # noqa: SIM115


def test_tensor_text_nests_as_tensorflow():
    assert format_tensor(np.array([[[1, 2]], [[3, 4]]], np.int32)) == "[[[1 2]]\n\n [[3 4]]]"  # TF 2.21's text
    assert format_tensor(np.array(2.5, np.float32)) == "2.5" and format_tensor(np.array(True)) == "1"
