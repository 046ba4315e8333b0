"""tf.train.Saver as TF1 programs use it: the Variables guide's flows, step suffixes, the state file, errors.

Restores run on checkpoints of both formats (TensorFlow's, the default, and
safetensors); tests/e2e/test_tf_checkpoints.py checks TensorFlow's format
against TensorFlow itself.
"""

import dataclasses
import os
import shutil
import time

import numpy as np
import pytest
import safetensors.numpy

import graphc as tf
from graphc.tools import cli


def build_mlp():
    with tf.name_scope("hidden1"):
        weights = tf.Variable(tf.truncated_normal([4, 3], stddev=0.5), name="weights")
        biases = tf.Variable(tf.zeros([3]), name="biases")
    flags = tf.Variable([True, False], name="flags")
    scale = tf.Variable(np.float64(0.5), name="scale")
    step = tf.train.create_global_step()
    return [weights, biases, flags, scale, step]


def values_of(sess, variables):
    return {v.op.name: sess.run(v) for v in variables}


def assert_values_equal(actual, expected):
    assert actual.keys() == expected.keys()
    for name in expected:
        np.testing.assert_array_equal(actual[name], expected[name], err_msg=name)


TF_FILES = (".data-00000-of-00001", ".index", ".meta")  # .meta: the graph, written by default as TF does


@dataclasses.dataclass
class Saved:
    """A checkpoint of `build_mlp()`: its prefix, the values saved, its format and files."""

    prefix: str
    expected: dict
    checkpoint_format: str

    @property
    def header_file(self) -> str:
        """The file holding the names, dtypes and shapes: TF's index, or the safetensors file itself."""
        return self.prefix + (".index" if self.checkpoint_format == "tf" else ".safetensors")

    @property
    def data_file(self) -> str:
        return self.prefix + (".data-00000-of-00001" if self.checkpoint_format == "tf" else ".safetensors")

    def __iter__(self):
        return iter((self.prefix, self.expected))


def save_mlp(directory, checkpoint_format) -> Saved:
    """Saves `build_mlp()` with trained-looking values in `directory`, then resets the default graph."""
    variables = build_mlp()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run([variables[1].assign([1.0, 2.0, 3.0]), variables[4].assign(42)])
        expected = values_of(sess, variables)
        prefix = tf.train.Saver(checkpoint_format=checkpoint_format).save(sess, str(directory / "model.ckpt"))
    tf.reset_default_graph()
    return Saved(prefix, expected, checkpoint_format)


@pytest.fixture(params=["tf", "safetensors"])
def saved(tmp_path, request):
    """A checkpoint of `build_mlp()`, in each format; unpacks to (prefix, values)."""
    return save_mlp(tmp_path, request.param)


def test_save_then_restore_in_a_fresh_graph_without_initializers(saved, tmp_path):
    prefix, expected = saved
    assert prefix == str(tmp_path / "model.ckpt")
    variables = build_mlp()
    saver = tf.train.Saver()
    with tf.Session() as sess:
        saver.restore(sess, prefix)
        assert_values_equal(values_of(sess, variables), expected)
        assert sess.run(variables[4]).dtype == np.int64


def test_restore_overwrites_values_that_compiled_steps_already_use(saved):
    prefix, expected = saved
    weights, biases, *_ = variables = build_mlp()
    total = tf.reduce_sum(biases)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        assert sess.run(total) == 0.0
        tf.train.Saver().restore(sess, prefix)
        assert sess.run(total) == 6.0
        assert_values_equal(values_of(sess, variables), expected)


def test_safetensors_reads_a_checkpoint_in_that_format(tmp_path):
    prefix, expected = save_mlp(tmp_path, "safetensors")
    assert sorted(os.listdir(tmp_path)) == ["checkpoint", "model.ckpt.meta", "model.ckpt.safetensors"]
    assert_values_equal(safetensors.numpy.load_file(prefix + ".safetensors"), expected)


def test_default_format_is_tensorflows(tmp_path):
    v = tf.Variable([1.0, 2.0], name="v")
    with tf.Session() as sess:
        sess.run(v.initializer)
        prefix = tf.train.Saver().save(sess, str(tmp_path / "model.ckpt"))
    assert sorted(os.listdir(tmp_path)) == ["checkpoint"] + ["model.ckpt" + suffix for suffix in TF_FILES]
    assert tf.train.list_variables(prefix) == [("v", [2])]
    with pytest.raises(ValueError, match="Unknown checkpoint format 'h5': graphc writes tf, safetensors"):
        tf.train.Saver(checkpoint_format="h5")


def test_saving_a_prefix_in_the_other_format_replaces_it(tmp_path):
    v = tf.Variable(1.0, name="v")
    prefix = str(tmp_path / "model.ckpt")
    with tf.Session() as sess:
        sess.run(v.initializer)
        for value, checkpoint_format in [(2.0, "tf"), (3.0, "safetensors"), (4.0, "tf")]:
            sess.run(v.assign(value))
            tf.train.Saver(checkpoint_format=checkpoint_format).save(sess, prefix)
            sess.run(v.assign(0.0))
            tf.train.Saver().restore(sess, prefix)
            assert sess.run(v) == value
            assert len(os.listdir(tmp_path)) == (4 if checkpoint_format == "tf" else 3)  # and .meta, checkpoint


def test_variables_guide_save_and_restore(tmp_path):
    v1 = tf.get_variable("v1", shape=[3], initializer=tf.zeros_initializer())
    v2 = tf.get_variable("v2", shape=[5], initializer=tf.zeros_initializer())
    inc_v1 = v1.assign(v1 + 1)
    dec_v2 = v2.assign(v2 - 1)
    init_op = tf.global_variables_initializer()
    saver = tf.train.Saver()
    with tf.Session() as sess:
        sess.run(init_op)
        inc_v1.op.run()
        dec_v2.op.run()
        save_path = saver.save(sess, str(tmp_path / "model.ckpt"))

    tf.reset_default_graph()
    v1 = tf.get_variable("v1", shape=[3])
    v2 = tf.get_variable("v2", shape=[5])
    saver = tf.train.Saver()
    with tf.Session() as sess:
        saver.restore(sess, save_path)
        assert v1.eval().tolist() == [1.0, 1.0, 1.0]
        assert v2.eval().tolist() == [-1.0] * 5

    tf.reset_default_graph()
    v1 = tf.get_variable("v1", [3], initializer=tf.zeros_initializer())
    v2 = tf.get_variable("v2", [5], initializer=tf.zeros_initializer())
    saver = tf.train.Saver({"v2": v2})
    with tf.Session() as sess:
        v1.initializer.run()
        saver.restore(sess, save_path)
        assert v1.eval().tolist() == [0.0] * 3
        assert v2.eval().tolist() == [-1.0] * 5


def test_variables_initialised_from_another_variable(tmp_path):
    weights = tf.Variable(tf.random_normal([6, 4], stddev=0.35, seed=1), name="weights")
    w2 = tf.Variable(weights.initialized_value(), name="w2")
    w_twice = tf.Variable(weights.initialized_value() * 2.0, name="w_twice")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        saved = sess.run(weights)
        np.testing.assert_array_equal(sess.run(w2), saved)
        np.testing.assert_allclose(sess.run(w_twice), 2 * saved)
        prefix = tf.train.Saver([weights]).save(sess, str(tmp_path / "weights"))

    # Restored `weights` counts as initialised: w2's initializer copies it, not a fresh draw.
    tf.reset_default_graph()
    weights = tf.Variable(tf.random_normal([6, 4], stddev=0.35, seed=2), name="weights")
    w2 = tf.Variable(weights.initialized_value(), name="w2")
    w_twice = tf.Variable(weights.initialized_value() * 2.0, name="w_twice")
    with tf.Session() as sess:
        tf.train.Saver([weights]).restore(sess, prefix)
        sess.run([w2.initializer, w_twice.initializer])
        np.testing.assert_array_equal(sess.run(weights), saved)
        np.testing.assert_array_equal(sess.run(w2), saved)
        np.testing.assert_allclose(sess.run(w_twice), 2 * saved)


def test_dict_form_restores_under_another_name(tmp_path):
    v2 = tf.Variable([1.0, 2.0], name="v2")
    saver = tf.train.Saver({"my_v2": v2})
    with tf.Session() as sess:
        sess.run(v2.initializer)
        prefix = saver.save(sess, str(tmp_path / "model.ckpt"))
    assert tf.train.list_variables(prefix) == [("my_v2", [2])]

    tf.reset_default_graph()
    with tf.variable_scope("elsewhere"):
        other = tf.Variable([0.0, 0.0], name="other_name")
    with tf.Session() as sess:
        tf.train.Saver({"my_v2": other}).restore(sess, prefix)
        assert sess.run(other).tolist() == [1.0, 2.0]


def test_restoring_a_subset_leaves_the_others_to_their_initializers(saved):
    prefix, expected = saved
    weights, biases, *_ = build_mlp()
    extra = tf.Variable(tf.ones([2]), name="extra")
    with tf.Session() as sess:
        tf.train.Saver([biases]).restore(sess, prefix)
        np.testing.assert_array_equal(sess.run(biases), expected["hidden1/biases"])
        with pytest.raises(tf.errors.FailedPreconditionError, match="hidden1/weights"):
            sess.run(weights)
        with pytest.raises(tf.errors.FailedPreconditionError, match="extra"):
            sess.run(extra)
        sess.run([weights.initializer, extra.initializer])
        assert sess.run(extra).tolist() == [1.0, 1.0]
        np.testing.assert_array_equal(sess.run(biases), expected["hidden1/biases"])


# -- global_step suffixes, max_to_keep and the state file -------------------------------------


def test_global_step_as_int_variable_or_tensor(tmp_path):
    step = tf.train.create_global_step()
    w = tf.Variable(1.0, name="w")
    saver = tf.train.Saver(max_to_keep=None)
    base = str(tmp_path / "model.ckpt")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(step.assign(7))
        assert saver.save(sess, base, global_step=3) == base + "-3"
        assert saver.save(sess, base, global_step=np.int64(4)) == base + "-4"
        assert saver.save(sess, base, global_step=step) == base + "-7"
        assert saver.save(sess, base, global_step=step * 10) == base + "-70"
    assert sorted(os.listdir(tmp_path)) == ["checkpoint"] + [f"model.ckpt-{n}{suffix}" for n in (3, 4, 7, 70)
                                                             for suffix in TF_FILES]


def test_max_to_keep_deletes_the_oldest_and_the_state_file_lists_the_rest(tmp_path):
    w = tf.Variable(0, name="w")
    saver = tf.train.Saver(max_to_keep=2)
    base = str(tmp_path / "model.ckpt")
    with tf.Session() as sess:
        sess.run(w.initializer)
        for step in (100, 200, 300):
            sess.run(w.assign(step))
            saver.save(sess, base, global_step=step)
            assert tf.train.latest_checkpoint(str(tmp_path)) == base + f"-{step}"
        assert sorted(os.listdir(tmp_path)) == ["checkpoint"] + [f"model.ckpt-{n}{suffix}" for n in (200, 300)
                                                                 for suffix in TF_FILES]
        assert (tmp_path / "checkpoint").read_text() == ('model_checkpoint_path: "model.ckpt-300"\n'
                                                         'all_model_checkpoint_paths: "model.ckpt-200"\n'
                                                         'all_model_checkpoint_paths: "model.ckpt-300"\n')
        assert saver.last_checkpoints == [base + "-200", base + "-300"]
        saver.save(sess, base, global_step=200)  # saving a kept step again makes it the newest
        assert saver.last_checkpoints == [base + "-300", base + "-200"]
        assert tf.train.latest_checkpoint(str(tmp_path)) == base + "-200"
    state = tf.train.get_checkpoint_state(str(tmp_path))
    assert state.model_checkpoint_path == base + "-200"
    assert state.all_model_checkpoint_paths == [base + "-300", base + "-200"]


def test_keep_checkpoint_every_n_hours_spares_one_of_the_expired_per_period(tmp_path, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    w = tf.Variable(0, name="w")
    saver = tf.train.Saver(max_to_keep=1, keep_checkpoint_every_n_hours=1.0)  # next kept: after 1000 + 3600
    base = str(tmp_path / "m")
    with tf.Session() as sess:
        sess.run(w.initializer)
        for step, now in enumerate([1000, 2000, 4700, 5000, 8000, 8400, 9000]):
            clock[0] = float(now)
            saver.save(sess, base, global_step=step)
    # As TF1: of the expired, step 2 (saved at 4700 > 4600) is kept, then step 5 (8400 > 8200); the rest go.
    assert sorted(f for f in os.listdir(tmp_path) if f.endswith(".index")) == ["m-2.index", "m-5.index", "m-6.index"]
    assert saver.last_checkpoints == [base + "-6"]


def test_max_to_keep_zero_keeps_every_checkpoint(tmp_path):
    w = tf.Variable(0, name="w")
    saver = tf.train.Saver(max_to_keep=0)
    with tf.Session() as sess:
        sess.run(w.initializer)
        for step in range(7):
            saver.save(sess, str(tmp_path / "m"), global_step=step)
    assert len([f for f in os.listdir(tmp_path) if f.endswith(".index")]) == 7
    assert len(tf.train.get_checkpoint_state(str(tmp_path)).all_model_checkpoint_paths) == 7


def test_a_new_saver_takes_over_the_kept_checkpoints(tmp_path):
    w = tf.Variable(0, name="w")
    base = str(tmp_path / "m")
    with tf.Session() as sess:
        sess.run(w.initializer)
        for step in (1, 2):
            tf.train.Saver(max_to_keep=2).save(sess, base, global_step=step)
        saver = tf.train.Saver(max_to_keep=2)
        saver.recover_last_checkpoints(tf.train.get_checkpoint_state(str(tmp_path)).all_model_checkpoint_paths)
        assert saver.last_checkpoints == [base + "-2"]  # each earlier Saver only knew its own
        saver.save(sess, base, global_step=3)
        saver.save(sess, base, global_step=4)
    assert sorted(os.listdir(tmp_path)) == ["checkpoint"] + [f"m-{n}{suffix}" for n in (1, 3, 4) for suffix in TF_FILES]


def test_state_file_paths_are_relative_so_the_directory_can_move(saved, tmp_path):
    prefix, expected = saved
    moved = tmp_path / "moved"
    moved.mkdir()
    for name in set(os.listdir(tmp_path)) - {"moved"}:
        shutil.move(str(tmp_path / name), str(moved / name))
    latest = tf.train.latest_checkpoint(str(moved))
    assert latest == str(moved / "model.ckpt")
    variables = build_mlp()
    with tf.Session() as sess:
        tf.train.Saver().restore(sess, latest)
        assert_values_equal(values_of(sess, variables), expected)


def test_relative_save_path_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    w = tf.Variable(3, name="w")
    with tf.Session() as sess:
        sess.run(w.initializer)
        assert tf.train.Saver().save(sess, "model.ckpt", global_step=1) == "model.ckpt-1"
    assert (tmp_path / "checkpoint").read_text().startswith('model_checkpoint_path: "model.ckpt-1"\n')
    assert tf.train.latest_checkpoint(".") == os.path.join(".", "model.ckpt-1")


def test_latest_checkpoint_without_state_or_data_is_none(tmp_path):
    assert tf.train.latest_checkpoint(str(tmp_path)) is None
    assert tf.train.latest_checkpoint(str(tmp_path / "no_such_dir")) is None
    w = tf.Variable(3, name="w")
    with tf.Session() as sess:
        sess.run(w.initializer)
        prefix = tf.train.Saver().save(sess, str(tmp_path / "model.ckpt"))
    assert tf.train.checkpoint_exists(prefix)
    os.remove(prefix + ".index")
    assert not tf.train.checkpoint_exists(prefix)
    assert tf.train.latest_checkpoint(str(tmp_path)) is None


def test_unreadable_state_file_is_ignored(tmp_path):
    (tmp_path / "checkpoint").write_text("garbage\n")
    assert tf.train.get_checkpoint_state(str(tmp_path)) is None
    assert tf.train.latest_checkpoint(str(tmp_path)) is None


def test_write_state_false_and_latest_filename(tmp_path):
    w = tf.Variable(3, name="w")
    saver = tf.train.Saver()
    with tf.Session() as sess:
        sess.run(w.initializer)
        saver.save(sess, str(tmp_path / "a"), write_state=False)
        assert sorted(os.listdir(tmp_path)) == ["a" + suffix for suffix in TF_FILES]
        saver.save(sess, str(tmp_path / "b"), latest_filename="latest")
    assert tf.train.latest_checkpoint(str(tmp_path)) is None
    assert tf.train.latest_checkpoint(str(tmp_path), latest_filename="latest") == str(tmp_path / "b")


# -- errors -----------------------------------------------------------------------------------


def test_saver_argument_errors():
    with pytest.raises(ValueError, match="No variables to save"):
        tf.train.Saver()
    with pytest.raises(ValueError, match="No variables to save"):
        tf.train.Saver([])
    v = tf.Variable(1.0, name="v")
    with pytest.raises(ValueError, match="same name: v"):
        tf.train.Saver([v, v])
    with pytest.raises(ValueError, match="two names: v"):
        tf.train.Saver({"a": v, "b": v})
    with pytest.raises(TypeError, match="not a Variable"):
        tf.train.Saver([v.value()])
    other_graph = tf.Graph()
    with other_graph.as_default():
        w = tf.Variable(1.0, name="w")
    with pytest.raises(ValueError, match="Variable w is not in the graph of the session"):
        tf.train.Saver([w]).save(tf.Session(), "unused")


def test_save_errors(tmp_path):
    v = tf.Variable(1.0, name="v")
    saver = tf.train.Saver()
    with tf.Session() as sess:
        with pytest.raises(tf.errors.FailedPreconditionError, match="uninitialized value v"):
            saver.save(sess, str(tmp_path / "model"))
        assert os.listdir(tmp_path) == []
        sess.run(v.initializer)
        # TF 2.21 (and TF 1.15's BundleWriter) create the missing directory, one level deep.
        with pytest.raises(ValueError, match="Parent directory of .*no_dir/deeper/model doesn't exist, can't save."):
            saver.save(sess, str(tmp_path / "no_dir" / "deeper" / "model"))
        assert os.listdir(tmp_path) == []


def test_save_creates_a_missing_parent_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tmp").mkdir()
    v = tf.Variable(1.0, name="v")
    with tf.Session() as sess:
        sess.run(v.initializer)
        assert tf.train.Saver().save(sess, "./tmp/model/my_linear.ckpt") == "./tmp/model/my_linear.ckpt"
    assert tf.train.latest_checkpoint("./tmp/model") == os.path.join("./tmp/model", "my_linear.ckpt")


# TF 2.21's classes and texts, from running tensorflow.compat.v1's Saver.restore.
def test_missing_checkpoint_or_a_directory_is_tfs_error(tmp_path):
    v = tf.Variable(1.0, name="v")
    with tf.Session() as sess:
        with pytest.raises(ValueError, match="The passed save_path is not a valid checkpoint: .*nothing_here"):
            tf.train.Saver().restore(sess, str(tmp_path / "nothing_here"))
        with pytest.raises(ValueError, match="save_path when it is None"):
            tf.train.Saver().restore(sess, None)
        with pytest.raises(tf.errors.DataLossError, match=f"Unable to open table file {tmp_path}: .*Is a directory"):
            tf.train.Saver().restore(sess, str(tmp_path))


# TF 2.21's classes and texts (tests/e2e/test_restore_lazily.py asks TF itself).
@pytest.mark.parametrize("make_variable, error, message", [
    (lambda: tf.Variable(tf.zeros([3]), name="absent"), tf.errors.NotFoundError,
     "Key absent not found in checkpoint .*model.ckpt"),
    (lambda: tf.Variable(tf.zeros([4]), name="hidden1/biases"), tf.errors.InvalidArgumentError,
     r"Assign requires shapes of both tensors to match. lhs shape= \[4\] rhs shape= \[3\]"),
    (lambda: tf.Variable(tf.zeros([3], tf.float64), name="hidden1/biases"), tf.errors.InvalidArgumentError,
     "tensor_name = hidden1/biases; expected dtype double does not equal original dtype float"),
    (lambda: tf.Variable(tf.zeros([], tf.int32), name="global_step"), tf.errors.InvalidArgumentError,
     "tensor_name = global_step; expected dtype int32 does not equal original dtype int64"),
])
def test_mismatched_variable_is_tf_error_and_restores_nothing(saved, make_variable, error, message):
    prefix, _ = saved
    kept = tf.Variable(np.float64(9.0), name="kept")
    bad = make_variable()
    with tf.Session() as sess:
        sess.run(kept.initializer)
        with pytest.raises(error, match=message) as caught:
            tf.train.Saver({"scale": kept, bad.op.name: bad}).restore(sess, prefix)
        assert caught.value.op is bad.op
        assert sess.run(kept) == 9.0


def test_missing_checkpoint_name_names_the_key_and_the_variable(saved):
    prefix, _ = saved
    v = tf.Variable(0.0, name="v")
    with tf.Session() as sess:
        with pytest.raises(tf.errors.NotFoundError, match="Key nope not found in checkpoint") as caught:
            tf.train.Saver({"nope": v}).restore(sess, prefix)
        assert caught.value.op is v.op


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_damaged_checkpoint_is_data_loss_and_restores_nothing(saved, damage):
    prefix, _ = saved
    path = saved.data_file
    data = bytearray(open(path, "rb").read())
    if damage == "truncate":
        data = data[:-7]
    else:
        data[len(data) - 30] ^= 0x04
    with open(path, "wb") as file:
        file.write(data)
    variables = build_mlp()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        before = values_of(sess, variables)
        with pytest.raises(tf.errors.DataLossError, match=os.path.basename(path)):
            tf.train.Saver().restore(sess, prefix)
        assert_values_equal(values_of(sess, variables), before)


# -- graphc inspect-checkpoint ----------------------------------------------------------------


def test_inspect_checkpoint_prints_names_dtypes_shapes_and_sizes_from_the_header(saved, capsys):
    prefix, expected = saved
    assert cli.main(["inspect-checkpoint", prefix]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{saved.header_file}: 5 tensors (header checked; --values to read and verify them)"
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:]}
    assert list(rows) == sorted(expected)
    assert rows["hidden1/weights"] == ["float32", "[4,3]", "48", "bytes"]
    assert rows["flags"] == ["bool", "[2]", "2", "bytes"]
    assert rows["global_step"] == ["int64", "[]", "8", "bytes"]


def test_inspect_checkpoint_values_prints_names_dtypes_shapes_and_values(saved, capsys):
    prefix, expected = saved
    for path in (prefix, saved.header_file):
        assert cli.main(["inspect-checkpoint", path, "--values"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert lines[0] == f"{saved.header_file}: 5 tensors, checksums verified"
        rows = {line.split()[0]: line.split(None, 3)[1:] for line in lines[1:]}
        assert list(rows) == sorted(expected)
        assert rows["global_step"] == ["int64", "[]", "values [42]"]
        assert rows["hidden1/biases"] == ["float32", "[3]", "values [1., 2., 3.]"]
        assert rows["flags"] == ["bool", "[2]", "values [ True, False]"]
        weights = expected["hidden1/weights"]
        assert rows["hidden1/weights"][:2] == ["float32", "[4,3]"]
        assert rows["hidden1/weights"][2] == (f"min {weights.min():.6g}  mean {weights.astype(np.float64).mean():.6g}"
                                              f"  max {weights.max():.6g}")


def test_inspect_checkpoint_reports_missing_and_damaged_files(saved, capsys, tmp_path):
    prefix, _ = saved
    assert cli.main(["inspect-checkpoint", str(tmp_path / "absent")]) == 1
    assert "No checkpoint" in capsys.readouterr().err
    with open(saved.header_file, "r+b") as file:
        file.truncate(100)
    assert cli.main(["inspect-checkpoint", prefix]) == 1
    assert "is damaged" in capsys.readouterr().err


def test_inspect_checkpoint_values_reports_a_damaged_tensor(saved, capsys):
    prefix, expected = saved
    data = bytearray(open(saved.data_file, "rb").read())
    data[data.find(expected["hidden1/weights"].tobytes()) + 5] ^= 0x10
    with open(saved.data_file, "wb") as file:
        file.write(data)
    assert cli.main(["inspect-checkpoint", prefix]) == 0  # the header is intact
    capsys.readouterr()
    assert cli.main(["inspect-checkpoint", prefix, "--values"]) == 1
    checksum = "CRC-32C" if saved.checkpoint_format == "tf" else "SHA-256"
    assert f"tensor 'hidden1/weights' fails its {checksum} checksum" in capsys.readouterr().err
