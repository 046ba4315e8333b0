"""`tf.train.Saver` and the state-file helpers around it (`latest_checkpoint`, `get_checkpoint_state` ...).

A checkpoint is named by its prefix, as in TF1: `saver.save(sess,
"dir/model.ckpt", global_step=1000)` returns "dir/model.ckpt-1000" and writes,
in TensorFlow's own format (the default), "dir/model.ckpt-1000.index" and
"dir/model.ckpt-1000.data-00000-of-00001", or with
`Saver(checkpoint_format="safetensors")` the one file
"dir/model.ckpt-1000.safetensors" (see `checkpoint_formats`), and the state
file "dir/checkpoint" naming the latest and the kept checkpoints. A restore
reads either format, whichever the prefix has.

Where graphc differs from TF1, and why:

- The `.meta` graph TensorFlow's `import_meta_graph` reads is written beside
  the checkpoint (`write_meta_graph`, default True), unless the graph has an
  op TensorFlow has no op for (graphc's `initialized_value`, Horovod's
  collectives): then a warning names them and no `.meta` is written. Its
  save subgraph is TF's, written for the file: graphc's Saver adds no ops
  to the graph.
- A failed restore changes no variable: every restored tensor is read and
  verified before any is loaded. The checkpoint's header (index) alone is
  checked against the variables before any tensor is read, and only the
  restored tensors are read, so a damaged header that declares a huge tensor,
  or a huge tensor nobody restores, costs no memory.
- The state file always holds paths relative to its directory for
  checkpoints inside it (TF1's `save_relative_paths=True`), so a directory
  of checkpoints can be moved; timestamps are not written.
- With `max_to_keep` None or 0 the state file lists every checkpoint this
  Saver wrote (TF1 lists only the latest).
- Not supported: saving tensors that are not Variables, restoring slices of
  partitioned variables (an UnimplementedError).
"""

from __future__ import annotations

import logging
import numbers
import os
import time

from graphc import errors
from graphc.core.tensor_shape import format_dims_as_list
from graphc.frontend.device_spec import DeviceSpec
from graphc.frontend.graph import GraphKeys, get_default_graph
from graphc.ops.variables import Variable
from graphc.train import checkpoint_formats, checkpoint_io, meta_graph_export, tf_datatypes

_log = logging.getLogger(__name__)


class Saver:
    """Saves and restores variables (`tf.train.Saver`).

    `var_list` is None (every global variable of the default graph when the
    Saver is built), a list of Variables, or a dict from checkpoint names to
    Variables. In the first two forms a variable's checkpoint name is its op
    name ("hidden1/weights"). `max_to_keep` bounds the checkpoints this Saver
    keeps on disk (None or 0: keep all); of those it would delete, it keeps one
    every `keep_checkpoint_every_n_hours`, as TF1 does.

    With `sharded`, the variables of each device (`tf.device`) go to a data
    file of their own, `PREFIX.data-0000i-of-0000N`, the devices in sorted
    order, as TF1's sharded Saver writes them (TensorFlow's format only).

    `name`, `restore_sequentially`, `defer_build`, `write_version` (graphc
    writes TF's V2) and `save_relative_paths` (graphc's paths are relative)
    are accepted for TF1 programs; `reshape`, `saver_def`, `builder`,
    `pad_step_number` and `filename` are not supported.

    `checkpoint_format` (graphc's own argument) is "tf", TensorFlow's
    `.index` + `.data-00000-of-00001` files (the default, so that checkpoints
    go both ways between graphc and TensorFlow), or "safetensors", one
    `P.safetensors` file with SHA-256 checksums.
    """

    def __init__(self, var_list=None, reshape=False, sharded=False, max_to_keep=5,
                 keep_checkpoint_every_n_hours=10000.0, name=None, restore_sequentially=False, saver_def=None,
                 builder=None, defer_build=False, write_version=None, pad_step_number=False,
                 save_relative_paths=False, filename=None, checkpoint_format=checkpoint_formats.DEFAULT):
        if reshape or saver_def is not None or builder is not None or pad_step_number or filename is not None:
            raise errors.UnimplementedError(None, None, "graphc's Saver does not support reshape, saver_def, builder, "
                                                        "pad_step_number or filename")
        self._variables = _checkpoint_names(var_list)
        self._max_to_keep = max_to_keep
        self._keep_every_seconds = keep_checkpoint_every_n_hours * 3600
        self._next_kept_time = time.time() + self._keep_every_seconds
        self._format = checkpoint_formats.check_format(checkpoint_format)
        if sharded and self._format != checkpoint_formats.TF:
            raise ValueError(f"Sharded checkpoints are written in TensorFlow's format only, not {self._format}")
        self._shard_of = _shards_by_device(self._variables) if sharded else None
        self._last_checkpoints: list = []  # (prefix, time saved), oldest first

    @property
    def last_checkpoints(self) -> list:
        """The prefixes of the checkpoints this Saver keeps, oldest first."""
        return [prefix for prefix, _ in self._last_checkpoints]

    def recover_last_checkpoints(self, checkpoint_paths) -> None:
        """Takes over `checkpoint_paths` (oldest first) as kept checkpoints, e.g. after a restart."""
        self._last_checkpoints = [(p, checkpoint_formats.modification_time(p)) for p in checkpoint_paths
                                  if checkpoint_formats.exists(p)]

    def save(self, sess, save_path, global_step=None, latest_filename=None, write_meta_graph=True,
             write_state=True):
        """Writes the variables' values in `sess`; returns the checkpoint prefix.

        The prefix is `save_path`, or `save_path-N` with N = `global_step` (an
        int, or a Variable or tensor evaluated in `sess`). A missing parent
        directory is created if its own parent exists (as TensorFlow does),
        else ValueError. With `write_state` the directory's state file (named
        `latest_filename`, default "checkpoint") is updated, and then
        checkpoints beyond `max_to_keep` are deleted. A process killed during a
        save leaves the previous checkpoint and state file intact. With
        `write_meta_graph` the graph goes to `PREFIX.meta` (see the module
        docstring), before the state file names the checkpoint.
        """
        save_path = os.fspath(save_path)
        save_dir = os.path.dirname(save_path)
        self._check_graph(sess)
        names = list(self._variables)
        fetches = [self._variables[name] for name in names]
        if global_step is not None and not isinstance(global_step, numbers.Integral):
            fetches.append(global_step)
        values = sess.run(fetches)
        if global_step is not None:
            step = global_step if isinstance(global_step, numbers.Integral) else values[-1]
            save_path = f"{save_path}-{int(step)}"
        _make_parent_directory(save_dir, save_path)
        checkpoint_formats.write(save_path, dict(zip(names, values)), self._format, self._shard_of)
        if write_meta_graph:
            self._write_meta_graph(sess.graph, save_path + checkpoint_formats.META_SUFFIX)
        if write_state:
            expired = self._record(save_path)
            state = checkpoint_io.CheckpointState(
                _state_entry(save_path, save_dir), [_state_entry(p, save_dir) for p in self.last_checkpoints])
            checkpoint_io.write_state(_state_file(save_dir, latest_filename), state)
            for prefix in expired:
                checkpoint_formats.delete(prefix)
        return save_path

    def restore(self, sess, save_path) -> None:
        """Loads this Saver's variables from the checkpoint `save_path` (a prefix) into `sess`.

        Reads TensorFlow's format or safetensors, whichever files the prefix
        has. Runs no initializer; variables not in this Saver are left as they
        are. As TF1: ValueError if there is no such checkpoint, NotFoundError
        naming the key if it lacks a variable, InvalidArgumentError naming the
        variable if it holds another shape or dtype, DataLossError naming the
        file (and tensor) if it is damaged or `save_path` is a directory. On
        error no variable changes. The checkpoint's header is checked against
        the variables before any tensor is read; then only the restored tensors
        are read, one at a time, and each is verified.
        """
        if save_path is None:
            raise ValueError("Can't load save_path when it is None.")
        save_path = os.fspath(save_path)
        self._check_graph(sess)
        if os.path.isdir(save_path):
            raise errors.DataLossError(None, None, f"Unable to open table file {save_path}: FAILED_PRECONDITION: "
                                                   f"{save_path}; Is a directory: perhaps your file is in a "
                                                   f"different file format and you need to use a different restore "
                                                   f"operator?")
        if not checkpoint_formats.exists(save_path):
            raise ValueError(f"The passed save_path is not a valid checkpoint: {save_path}")
        with checkpoint_formats.open_checkpoint(save_path) as reader:
            for name, var in self._variables.items():
                _check_entry(var, name, reader.entries.get(name), save_path)
            values = {var.op.name: reader.read(name) for name, var in self._variables.items()}
        # Handed over one at a time, so that each array read is freed as soon as the session has copied it:
        # at the peak, one variable is held twice.
        while values:
            name, value = values.popitem()
            sess._load_variables({name: value})

    def export_meta_graph(self, filename=None, collection_list=None, as_text=False, export_scope=None,
                          clear_devices=False, clear_extraneous_savers=False, strip_default_attrs=False,
                          save_debug_info=False):
        """`Saver.export_meta_graph`: the graph's MetaGraphDef with this Saver's SaverDef, written to
        `filename` when given (`tf.train.export_meta_graph`)."""
        if export_scope is not None:
            raise errors.UnimplementedError(None, None, "Saver.export_meta_graph(export_scope=...) is not supported "
                                                        "by graphc")
        graph = next(iter(self._variables.values())).graph
        meta = meta_graph_export.meta_graph_def(graph, self, collection_list, clear_devices)
        if filename is not None:
            meta_graph_export.write(os.fspath(filename), meta, as_text)
        return meta

    def _write_meta_graph(self, graph, path: str) -> None:
        """Writes the `.meta` of a save; a graph TF cannot import, or no `tensorboard`, is a warning only."""
        try:
            meta = meta_graph_export.meta_graph_def(graph, self)
        except (ValueError, ImportError) as e:
            _log.warning("No meta graph written to %s: %s", path, e)
            return
        meta_graph_export.write(path, meta, as_text=False)

    def _check_graph(self, sess) -> None:
        for var in self._variables.values():
            if var.graph is not sess.graph:
                raise ValueError(f"Variable {var.op.name} is not in the graph of the session")

    def _record(self, prefix: str) -> list:
        """Records `prefix` as the newest checkpoint; returns the prefixes now to delete.

        Beyond `max_to_keep`, the oldest are dropped; as in TF1, one saved after
        the next keep-time (every `keep_checkpoint_every_n_hours`) is dropped
        from the list but not deleted.
        """
        self._last_checkpoints = [entry for entry in self._last_checkpoints if entry[0] != prefix]
        self._last_checkpoints.append((prefix, time.time()))
        expired = []
        while self._max_to_keep and len(self._last_checkpoints) > self._max_to_keep:
            oldest, saved_at = self._last_checkpoints.pop(0)
            if saved_at > self._next_kept_time:
                self._next_kept_time += self._keep_every_seconds
            else:
                expired.append(oldest)
        return expired


def _checkpoint_names(var_list) -> dict:
    """Checkpoint name -> Variable, checked as TF1 checks it."""
    if var_list is None:
        var_list = get_default_graph().get_collection(GraphKeys.GLOBAL_VARIABLES)
    if isinstance(var_list, dict):
        pairs = list(var_list.items())
    else:
        pairs = [(var.op.name if isinstance(var, Variable) else None, var) for var in var_list]
    if not pairs:
        raise ValueError("No variables to save")
    names, seen = {}, set()
    for name, var in pairs:
        if not isinstance(var, Variable):
            raise TypeError(f"Variable to save is not a Variable: {var!r}")
        if not isinstance(name, str):
            raise TypeError(f"Checkpoint name {name!r} of variable {var.op.name} is not a string")
        if name in names:
            raise ValueError(f"At least two variables have the same name: {name}")
        if var in seen:
            raise ValueError(f"The same variable will be restored with two names: {var.op.name}")
        names[name] = var
        seen.add(var)
    return names


def _shards_by_device(variables: dict) -> dict:
    """Checkpoint name -> shard: one shard per device of the variables, devices in sorted order (TF1's
    `_GroupByDevices`)."""
    devices = sorted({DeviceSpec.from_string(var.device).to_string() for var in variables.values()})
    return {name: devices.index(DeviceSpec.from_string(var.device).to_string()) for name, var in variables.items()}


def _check_entry(var: Variable, name: str, entry, save_path: str) -> None:
    """Raises TF1's error if the checkpoint's tensor `name` (header `entry`, None if absent) cannot restore `var`."""
    if entry is None:
        raise errors.NotFoundError(None, var.op, f"Key {name} not found in checkpoint {save_path}")
    if entry.dtype != var.dtype.np_dtype:
        raise errors.InvalidArgumentError(
            None, var.op, f"tensor_name = {name}; expected dtype {tf_datatypes.type_name(var.dtype.np_dtype)} does "
                          f"not equal original dtype {entry.type_name} in checkpoint {save_path}")
    if entry.shape != var.shape.as_tuple():
        raise errors.InvalidArgumentError(
            None, var.op, f"Assign requires shapes of both tensors to match. lhs shape= "
                          f"{format_dims_as_list(var.shape.as_tuple())} rhs shape= {format_dims_as_list(entry.shape)} "
                          f"(variable {var.op.name}, checkpoint {save_path})")


def _make_parent_directory(save_dir: str, save_path: str) -> None:
    """Creates the checkpoint's directory if missing, one level deep as TensorFlow's BundleWriter does."""
    if not save_dir or os.path.isdir(save_dir):
        return
    try:
        os.mkdir(save_dir)
    except FileExistsError:
        pass
    except FileNotFoundError:
        raise ValueError(f"Parent directory of {save_path} doesn't exist, can't save.") from None


def _state_file(directory: str, latest_filename=None) -> str:
    return os.path.join(directory, latest_filename or checkpoint_io.STATE_FILENAME)


def _state_entry(prefix: str, save_dir: str) -> str:
    """How the state file in `save_dir` names `prefix`: relative when inside the directory."""
    if os.path.dirname(os.path.abspath(prefix)) == os.path.abspath(save_dir):
        return os.path.basename(prefix)
    return os.path.abspath(prefix)


def checkpoint_exists(checkpoint_prefix) -> bool:
    """`tf.train.checkpoint_exists`: whether the checkpoint exists, in either format."""
    return checkpoint_formats.exists(os.fspath(checkpoint_prefix))


def get_checkpoint_state(checkpoint_dir, latest_filename=None):
    """`tf.train.get_checkpoint_state`: the directory's CheckpointState, or None.

    Relative paths are joined to `checkpoint_dir`. An unreadable state file
    is logged and ignored (None), as in TF1.
    """
    checkpoint_dir = os.fspath(checkpoint_dir)
    path = _state_file(checkpoint_dir, latest_filename)
    try:
        state = checkpoint_io.read_state(path)
    except (OSError, ValueError) as e:
        _log.warning("%s: checkpoint state ignored: %s", path, e)
        return None
    if state is None:
        return None
    if not state.model_checkpoint_path:
        raise ValueError(f"Invalid checkpoint state loaded from {path}: no model_checkpoint_path")
    state.model_checkpoint_path = os.path.join(checkpoint_dir, state.model_checkpoint_path)
    state.all_model_checkpoint_paths = [os.path.join(checkpoint_dir, p) for p in state.all_model_checkpoint_paths]
    return state


def latest_checkpoint(checkpoint_dir, latest_filename=None):
    """`tf.train.latest_checkpoint`: the prefix of the directory's latest checkpoint, or None."""
    state = get_checkpoint_state(checkpoint_dir, latest_filename)
    if state is None:
        return None
    if not checkpoint_exists(state.model_checkpoint_path):
        _log.warning("Couldn't match files for checkpoint %s", state.model_checkpoint_path)
        return None
    return state.model_checkpoint_path

