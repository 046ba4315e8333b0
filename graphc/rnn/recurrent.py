"""TF1's recurrent drivers: `tf.nn.static_rnn`, `static_bidirectional_rnn`, `dynamic_rnn` and
`bidirectional_dynamic_rnn`, with TF1's scopes (`rnn/...`, `bidirectional_rnn/fw/...`) so that
variable names, and so checkpoints, match TF1's.

The static drivers run their cell step by step through `_time_loop`, which unrolls the
static number of steps into the graph (each step a copy of the cell's ops, sharing its
variables), as TF1's static_rnn does. The dynamic drivers run `_native_time_loop`: one
tf.while_loop over time (a native loop in the compiled step; its gradient a reverse loop)
that reads step t's input as row t and writes its output into a TensorArray, as TF1's
dynamic_rnn does. Both, with `sequence_length`, mask finished sequences as TF1's `_rnn_step`
does — their outputs are zeros and their state is copied through, so the final state is each
sequence's state at its last step.
"""

from __future__ import annotations

from graphc import errors
from graphc.core import dtypes
from graphc.frontend.graph import convert_to_tensor
from graphc.ops import array_ops, control_flow_ops, layout_ops, math_ops, sequence_ops, tensor_array_ops
from graphc.ops.variable_scope import variable_scope
from graphc.rnn.cells import flatten, pack_like


def _copy_through(finished, kept, computed):
    """`kept` in the rows whose sequence has finished, else `computed` (tf.where of a vector: whole rows)."""
    return math_ops.where(finished, kept, computed)


def _time_loop(step, inputs_time_major, initial_state, sequence_length=None):
    """Runs `step(input_t, state) -> (output_t, state)` over the first axis of `inputs_time_major`
    ([time, batch, ...]) from `initial_state`; returns (the outputs stacked on a first time axis, the
    final state). With `sequence_length` ([batch]), a row past its length outputs zeros and keeps its
    state. The steps are unrolled: the number of them must be known when the graph is built."""
    steps = inputs_time_major.shape.as_list()[0] if inputs_time_major.shape.ndims else None
    if steps is None:
        raise errors.UnimplementedError(
            None, None, f"graphc unrolls recurrent networks over a time dimension known when the graph is built; "
                        f"{inputs_time_major.name} has shape {inputs_time_major.shape}. An unknown number of steps "
                        "needs tf.while_loop, which this build of graphc's rnn does not use yet")
    if sequence_length is not None:
        sequence_length = array_ops.cast(sequence_length, dtypes.int32)
    state, outputs = initial_state, []
    for t, input_t in enumerate(layout_ops.unstack(inputs_time_major, num=steps, axis=0)):
        output, new_state = step(input_t, state)
        if sequence_length is not None:
            finished = math_ops.greater_equal(t, sequence_length)
            output = _copy_through(finished, array_ops.zeros_like(output), output)
            new_state = pack_like(state, [_copy_through(finished, old, new)
                                          for old, new in zip(flatten(state), flatten(new_state))])
        outputs.append(output)
        state = new_state
    return layout_ops.stack(outputs, axis=0), state


def _native_time_loop(step, inputs_time_major, initial_state, output_size, sequence_length=None):
    """dynamic_rnn's time loop: as `_time_loop`, but one tf.while_loop (a native loop in the compiled
    step, its gradient a reverse loop) reading step t's input as row t and writing its output into a
    TensorArray, as TF1's dynamic_rnn does. The number of steps must be known when the graph is built
    (the TensorArray's rows and the gradient's saved rows are allocated for them)."""
    steps = inputs_time_major.shape.as_list()[0] if inputs_time_major.shape.ndims else None
    if steps is None:
        raise errors.UnimplementedError(
            None, None, f"graphc's dynamic_rnn needs the number of time steps when the graph is built (its "
                        f"TensorArray and the loop's saved rows are allocated for them); {inputs_time_major.name} "
                        f"has shape {inputs_time_major.shape}")
    if sequence_length is not None:
        sequence_length = array_ops.cast(sequence_length, dtypes.int32)
    batch = _batch_size(inputs_time_major, 1)
    outputs = tensor_array_ops.TensorArray(inputs_time_major.dtype, size=steps, element_shape=[batch, output_size])

    def body(t, state, outputs):
        output, new_state = step(inputs_time_major[t], state)
        if sequence_length is not None:
            finished = math_ops.greater_equal(t, sequence_length)
            output = _copy_through(finished, array_ops.zeros_like(output), output)
            new_state = pack_like(state, [_copy_through(finished, old, new)
                                          for old, new in zip(flatten(state), flatten(new_state))])
        return new_state, outputs.write(t, output)

    # t is the loop's counter: the gradient writes each input row's gradient once (control_flow_ops).
    state, outputs = control_flow_ops.counted_loop(steps, body, [initial_state, outputs], name="while")
    return outputs.stack(), state


def _initial_state(cell, initial_state, dtype, batch_size):
    if initial_state is not None:
        return initial_state
    if dtype is None:
        raise ValueError("If there is no initial_state, you must give a dtype.")
    return cell.zero_state(batch_size, dtype)


def _batch_size(tensor, axis):
    size = tensor.shape.as_list()[axis]
    return size if size is not None else array_ops.shape(tensor)[axis]


def _step_in(cell, scope):
    """The step of `cell`: it is called inside the driver's variable scope `scope`."""

    def step(input_t, state):
        with variable_scope(scope):
            return cell(input_t, state)

    return step


def static_rnn(cell, inputs, initial_state=None, dtype=None, sequence_length=None, scope=None):
    """`tf.nn.static_rnn`: `cell` over the list `inputs` (one [batch, depth] tensor per step); returns
    (the list of outputs, the final state). Variables live in `scope` (default "rnn")."""
    if not isinstance(inputs, (list, tuple)):
        raise TypeError("inputs must be a sequence")
    if not inputs:
        raise ValueError("inputs must not be empty")
    with variable_scope(scope or "rnn") as outer:
        inputs = [convert_to_tensor(x) for x in inputs]
        state = _initial_state(cell, initial_state, dtype, _batch_size(inputs[0], 0))
        outputs, state = _time_loop(_step_in(cell, outer), layout_ops.stack(inputs), state, sequence_length)
        return layout_ops.unstack(outputs, num=len(inputs)), state


def static_bidirectional_rnn(cell_fw, cell_bw, inputs, initial_state_fw=None, initial_state_bw=None, dtype=None,
                             sequence_length=None, scope=None):
    """`tf.nn.static_bidirectional_rnn`: a forward and a backward static_rnn (scopes `fw`, `bw` in
    "bidirectional_rnn"); the outputs are the two directions' outputs concatenated per step."""
    if not isinstance(inputs, (list, tuple)) or not inputs:
        raise TypeError("inputs must be a non-empty sequence")
    with variable_scope(scope or "bidirectional_rnn"):
        with variable_scope("fw") as fw_scope:
            output_fw, state_fw = static_rnn(cell_fw, inputs, initial_state_fw, dtype, sequence_length, fw_scope)
        with variable_scope("bw") as bw_scope:
            reversed_inputs = _reverse_steps(layout_ops.stack(list(inputs)), sequence_length, time_axis=0)
            output_bw, state_bw = static_rnn(cell_bw, layout_ops.unstack(reversed_inputs, num=len(inputs)),
                                             initial_state_bw, dtype, sequence_length, bw_scope)
        output_bw = layout_ops.unstack(_reverse_steps(layout_ops.stack(output_bw), sequence_length, time_axis=0),
                                       num=len(inputs))
        outputs = [layout_ops.concat([fw, bw], 1) for fw, bw in zip(output_fw, output_bw)]
        return outputs, state_fw, state_bw


def _reverse_steps(tensor, sequence_length, time_axis):
    """The time axis reversed (each sequence within its length, when lengths are given)."""
    if sequence_length is None:
        return sequence_ops.reverse(tensor, [time_axis])
    return sequence_ops.reverse_sequence(tensor, sequence_length, seq_axis=time_axis, batch_axis=1 - time_axis)


def dynamic_rnn(cell, inputs, sequence_length=None, initial_state=None, dtype=None, parallel_iterations=None,
                swap_memory=False, time_major=False, scope=None):
    """`tf.nn.dynamic_rnn`: `cell` over the time axis of `inputs` ([batch, time, depth], or
    [time, batch, depth] with `time_major`); returns (outputs in the same layout, the final state).
    Variables live in `scope` (default "rnn"). See the module docstring for how time is iterated."""
    with variable_scope(scope or "rnn") as outer:
        inputs = convert_to_tensor(inputs)
        if inputs.shape.ndims is not None and inputs.shape.ndims < 3:
            raise ValueError(f"Expected inputs of rank >= 3 ([batch, time, depth]), got shape {inputs.shape}")
        time_major_inputs = inputs if time_major else array_ops.transpose(
            inputs, [1, 0] + list(range(2, inputs.shape.ndims)))
        state = _initial_state(cell, initial_state, dtype, _batch_size(time_major_inputs, 1))
        if sequence_length is not None:
            sequence_length = array_ops.identity(convert_to_tensor(sequence_length), name="sequence_length")
        outputs, state = _native_time_loop(_step_in(cell, outer), time_major_inputs, state, cell.output_size,
                                           sequence_length)
        if not time_major:
            outputs = array_ops.transpose(outputs, [1, 0] + list(range(2, outputs.shape.ndims)))
        return outputs, state


def bidirectional_dynamic_rnn(cell_fw, cell_bw, inputs, sequence_length=None, initial_state_fw=None,
                              initial_state_bw=None, dtype=None, parallel_iterations=None, swap_memory=False,
                              time_major=False, scope=None):
    """`tf.nn.bidirectional_dynamic_rnn`: dynamic_rnn forward (scope `fw`) and over the reversed
    sequences (scope `bw`, its outputs reversed back); returns ((output_fw, output_bw), (state_fw,
    state_bw)), as TF1."""
    time_axis = 0 if time_major else 1
    with variable_scope(scope or "bidirectional_rnn"):
        with variable_scope("fw") as fw_scope:
            output_fw, state_fw = dynamic_rnn(cell_fw, inputs, sequence_length, initial_state_fw, dtype,
                                              time_major=time_major, scope=fw_scope)
        with variable_scope("bw") as bw_scope:
            inputs_reversed = _reverse_steps(convert_to_tensor(inputs), sequence_length, time_axis)
            reversed_output, state_bw = dynamic_rnn(cell_bw, inputs_reversed, sequence_length, initial_state_bw,
                                                    dtype, time_major=time_major, scope=bw_scope)
        output_bw = _reverse_steps(reversed_output, sequence_length, time_axis)
        return (output_fw, output_bw), (state_fw, state_bw)
