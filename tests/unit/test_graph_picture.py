"""graph_picture: the tutorial MLP's training step drawn as DOT, before and after fusion."""

import pytest

import graphc as tf
from graphc.compiler.dump import graph_text, parse_graph_text
from graphc.examples.tutorials.mnist import mnist
from graphc.ir.parser import parse
from graphc.ir.printer import print_program
from graphc.passes.pipeline import run_pipeline
from graphc.tools import dot_render
from graphc.tools.graph_picture import graph_dot, program_dot, quote
from tests.dot_structure import braces_balance, read_dot
from tests.mlp_graph import mlp_training_program


def mlp_graph_ops():
    images = tf.placeholder(tf.float32, (None, mnist.IMAGE_PIXELS), name="images")
    labels = tf.placeholder(tf.int32, (None,), name="labels")
    loss = mnist.loss(mnist.inference(images, 16, 8), labels)
    train_op = mnist.training(loss, 0.01)
    return parse_graph_text(graph_text([train_op, loss]))


def assert_edges_join_declared_nodes(structure):
    for tail, head, _ in structure.edges:
        assert tail in structure.nodes and head in structure.nodes, (tail, head)


def test_graph_text_parses_back_to_its_ops():
    ops = {op.name: op for op in mlp_graph_ops()}
    matmul = ops["hidden1/MatMul"]
    assert (matmul.type, matmul.inputs, matmul.outputs) == ("MatMul", ("images:0", "hidden1/weights/read:0"),
                                                           ("float32(?, 16)",))
    update = ops["GradientDescent/update"]
    assert update.type == "NoOp" and update.outputs == () and len(update.control_inputs) == 6
    assert ops["global_step"].outputs == ("int32()",)


def test_graph_scopes_are_nested_clusters():
    ops = mlp_graph_ops()
    structure = read_dot(graph_dot(ops))
    assert set(structure.nodes) == {op.name for op in ops}
    assert_edges_join_declared_nodes(structure)
    assert structure.nodes["hidden1/MatMul"]["clusters"] == ("cluster_hidden1",)
    # A variable and its read share the cluster of the scope the variable's name opens.
    for name in ("hidden1/weights", "hidden1/weights/read"):
        assert structure.nodes[name]["clusters"] == ("cluster_hidden1", "cluster_hidden1/weights")
    assert structure.nodes["gradients/hidden1/MatMul_grad/MatMul_1"]["clusters"] == (
        "cluster_gradients", "cluster_gradients/hidden1", "cluster_gradients/hidden1/MatMul_grad")
    assert structure.clusters["cluster_gradients/hidden1/MatMul_grad"] == "MatMul_grad"


def test_graph_edges_carry_shapes_and_kinds_are_styled():
    structure = read_dot(graph_dot(mlp_graph_ops()))
    edges = {(tail, head): attrs for tail, head, attrs in structure.edges}
    assert edges[("hidden1/MatMul", "hidden1/add")]["label"] == "float32(?, 16)"
    assert edges[("GradientDescent/update", "GradientDescent")]["style"] == "dashed"  # a control input
    assert structure.nodes["hidden1/weights"]["fillcolor"] == "#fff2cc"
    assert structure.nodes["images"]["shape"] == "invhouse"
    assert structure.nodes["hidden1/MatMul"].get("style") is None


def test_graph_with_an_unknown_input_is_refused():
    ops = mlp_graph_ops()
    with pytest.raises(ValueError, match="hidden1/MatMul reads images:0"):
        graph_dot([op for op in ops if op.name != "images"])


def test_ir_before_fusion_clusters_name_scopes():
    program, _, _ = mlp_training_program()
    structure = read_dot(program_dot(program))
    assert len(structure.nodes) == len(program.instructions) + 1  # and the fetch node
    assert_edges_join_declared_nodes(structure)
    assert not any(c.startswith("cluster_kernel") for c in structure.clusters)
    assert {"cluster_hidden1", "cluster_gradients", "cluster_GradientDescent"} <= set(structure.clusters)
    matmul = next(i for i, inst in enumerate(program.instructions) if inst.source == "hidden1/MatMul")
    assert structure.nodes[f"i{matmul}"]["clusters"] == ("cluster_hidden1",)
    assert structure.nodes[f"i{matmul}"]["label"].endswith("= matmul")


def test_ir_after_fusion_outlines_each_kernel_with_its_instructions():
    program = run_pipeline(mlp_training_program()[0])
    structure = read_dot(program_dot(program))
    assert_edges_join_declared_nodes(structure)
    assert set(structure.clusters) == {f"cluster_kernel_{k}" for k in program.kernels}
    for number, inst in enumerate(program.instructions):
        expected = (f"cluster_kernel_{inst.kernel}",) if inst.kernel is not None else ()
        assert structure.nodes[f"i{number}"]["clusters"] == expected, inst
    gemm = next(k for k, kind in program.kernels.items() if kind == "gemm")
    assert structure.clusters[f"cluster_kernel_{gemm}"] == f"kernel {gemm} gemm"
    members = [n for n, attrs in structure.nodes.items() if attrs["clusters"] == (f"cluster_kernel_{gemm}",)]
    assert [structure.nodes[n]["label"].split(" = ")[1] for n in members] == ["matmul", "add", "relu"]
    # The printed IR (what `graphc dump` reads back) draws the same picture.
    assert program_dot(parse(print_program(program))) == program_dot(program)


def test_quote_escapes_dot_strings():
    assert quote('a "b"\\c\nd') == '"a \\"b\\"\\\\c\\nd"'
    assert braces_balance('digraph "{" { a [label="}"]; }')


def test_graphviz_renders_the_fused_step():
    # graphviz-pure comes with the test extra; Graphviz's own dot is used instead when installed.
    program = run_pipeline(mlp_training_program()[0])
    svg = dot_render.render(program_dot(program), "svg").decode()
    assert svg.count('class="cluster"') == len(program.kernels)
    assert "gemm" in program.kernels.values()
    assert all(f"kernel {number} {kind}" in svg for number, kind in program.kernels.items())
    assert dot_render.render(program_dot(program), "png").startswith(b"\x89PNG")
