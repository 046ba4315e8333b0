"""graphc's GraphDefs (what `.meta` files and `as_graph_def` hold), run by TensorFlow: random gradient graphs
of the fuzzer — graphc's ops and graphc's gradient ops — written as GraphDefs, imported by TensorFlow 2.21
and run on the same feeds, give graphc's values. This checks every op's TensorFlow form (type attributes,
attribute names, input order, extra outputs, expansions) where it matters: in TensorFlow.

Skips, naming the `[tf-oracle]` extra, when TensorFlow is not installed.
"""

import json

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import graphc as tf
from graphc.core import registry
from graphc.frontend.graph_def import graph_def
from tests.fuzz.context import GRADIENTS, VALUES, leaf_values
from tests.fuzz.oracle import _build
from tests.tf_oracle import run_tensorflow

GRAPHS = 10  # 40 pass too (60 s here)

TENSORFLOW_SIDE = """
import json, sys
import numpy as np
import tensorflow.compat.v1 as tf
from tensorflow.core.framework import graph_pb2
tf.disable_v2_behavior()
work, count = sys.argv[1], int(sys.argv[2])
for number in range(count):
    case = json.load(open(f"{work}/{number}.json"))
    graph_def = graph_pb2.GraphDef.FromString(open(f"{work}/{number}.pb", "rb").read())
    feeds = np.load(f"{work}/{number}.npz")
    with tf.Graph().as_default() as graph:
        tf.import_graph_def(graph_def, name="")
        with tf.Session() as sess:
            values = sess.run(case["fetches"], {name: feeds[f"feed{i}"] for i, name in enumerate(case["feeds"])})
    np.savez(f"{work}/{number}_tf.npz", *values)
"""


def _tf_name(tensor) -> str:
    """The GraphDef's name of graphc's tensor: an op TF computes as another op's extra output
    (top_k_indices, TopKV2's output 1) is written as that op, under its own name."""
    producer = next((d for d in registry.all_ops() if tensor.op.op_def.name in d.tf_extra_outputs), None)
    if producer is None:
        return tensor.name
    return f"{tensor.op.name}:{producer.tf_extra_outputs.index(tensor.op.op_def.name) + 1}"


def test_random_graphs_written_as_graph_defs_run_in_tensorflow_as_in_graphc(tmp_path):
    cases = []

    @settings(max_examples=GRAPHS, deadline=None, derandomize=True, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def build(data):
        mode = data.draw(st.sampled_from([GRADIENTS, GRADIENTS, VALUES]))  # gradients: graphc's own ops too
        built = _build(data.draw, mode, tf.float64, tensorflow=True)
        rng = np.random.RandomState(len(cases))
        feeds = {leaf.tensor: leaf_values(leaf, rng, False, True).astype(leaf.tensor.dtype.np_dtype)
                 for leaf in built.context.leaves}
        with tf.Session(graph=built.graph) as sess:
            if built.initializer is not None:
                sess.run(built.initializer)
            values = sess.run(built.fetches, feeds)
        number = len(cases)
        (tmp_path / f"{number}.pb").write_bytes(graph_def(built.graph, strict=True).SerializeToString())
        np.savez(tmp_path / f"{number}.npz", **{f"feed{i}": v for i, v in enumerate(feeds.values())})
        (tmp_path / f"{number}.json").write_text(json.dumps({"fetches": [_tf_name(t) for t in built.fetches],
                                                             "feeds": [t.name for t in feeds]}))
        cases.append(values)

    build()
    run_tensorflow(TENSORFLOW_SIDE, str(tmp_path), str(len(cases)))
    for number, values in enumerate(cases):
        with np.load(tmp_path / f"{number}_tf.npz") as answers:
            for index, value in enumerate(values):
                np.testing.assert_allclose(answers[f"arr_{index}"], value, rtol=1e-6, atol=1e-9,
                                           err_msg=f"graph {number}, fetch {index}")
