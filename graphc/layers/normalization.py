"""`tf.layers.BatchNormalization` and `tf.layers.batch_normalization`, as TF 1.15 builds them.

The layer owns `gamma` and `beta` (trainable) and `moving_mean` and `moving_variance`
(global, not trainable) in its scope (`batch_normalization/gamma` ...). In training it
normalizes by the batch's moments and adds two updates of the moving averages,
`var -= (var - batch value) * (1 - momentum)`, to the layer's `updates` and to
`GraphKeys.UPDATE_OPS`, which TF1 programs run with their train op
(`with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS))`).
Otherwise it normalizes by the moving averages and adds no update.

TF 1.15 computes rank-4 inputs normalized along axis 1 or 3 with FusedBatchNorm (`fused`
left None), whose batch variance, which the moving variance averages, carries Bessel's
correction (n / (n - 1)); graphc builds the same values from moments, and applies that
correction to the moving variance's update where TF's fused kernel would.

`training` may be a bool tensor: TF selects a branch with `cond`, which graphc has not;
both branches' values are computed and selected (`where`), with the same results: the
moving statistics when false, whose update is then by zero.
"""

from __future__ import annotations

from graphc.core import dtypes
from graphc.frontend.graph import GraphKeys, convert_to_tensor, get_default_graph, name_scope
from graphc.frontend.static_value import static_value
from graphc.layers.base import Layer
from graphc.ops import array_ops, init_ops, math_ops, nn_impl, state_ops


def _training_value(training):
    """True, False, or None for a bool tensor whose value is known only when the step runs."""
    if isinstance(training, bool) or training is None:
        return bool(training)
    training = convert_to_tensor(training)
    if training.dtype is not dtypes.bool_:
        raise TypeError(f"training must be a Python bool or a bool tensor, got {training.dtype.name}")
    value = static_value(training, lambda t: t.shape.as_tuple())
    return None if value is None else bool(value)


class BatchNormalization(Layer):
    """Normalizes its inputs along `axis` (the channels), then scales by `gamma` and shifts by `beta`."""

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer=init_ops.zeros_initializer(), gamma_initializer=init_ops.ones_initializer(),
                 moving_mean_initializer=init_ops.zeros_initializer(),
                 moving_variance_initializer=init_ops.ones_initializer(), beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None, renorm=False,
                 renorm_clipping=None, renorm_momentum=0.99, fused=None, trainable=True, virtual_batch_size=None,
                 adjustment=None, name=None, **kwargs):
        for option, value in (("renorm", renorm), ("virtual_batch_size", virtual_batch_size),
                              ("adjustment", adjustment)):
            if value:
                raise ValueError(f"graphc: tf.layers.batch_normalization does not support {option}")
        super().__init__(trainable=trainable, name=name, **kwargs)
        self.axis = list(axis) if isinstance(axis, (list, tuple)) else axis
        self.momentum, self.epsilon, self.center, self.scale = momentum, epsilon, center, scale
        self.beta_initializer, self.gamma_initializer = beta_initializer, gamma_initializer
        self.moving_mean_initializer = moving_mean_initializer
        self.moving_variance_initializer = moving_variance_initializer
        self.beta_regularizer, self.gamma_regularizer = beta_regularizer, gamma_regularizer
        self.beta_constraint, self.gamma_constraint = beta_constraint, gamma_constraint
        self.fused = fused
        self.updates: list = []
        self.gamma = self.beta = self.moving_mean = self.moving_variance = None

    def build(self, input_shape):
        dims = input_shape.as_tuple()
        if not dims:
            raise ValueError(f"Input has undefined rank: {input_shape}")
        rank = len(dims)
        axes = [self.axis] if isinstance(self.axis, int) else self.axis
        axes = [a + rank if a < 0 else a for a in axes]
        if any(not 0 <= a < rank for a in axes):
            raise ValueError(f"Invalid axis: {self.axis}")
        if len(set(axes)) != len(axes):
            raise ValueError(f"Duplicate axis: {axes}")
        self.axis = axes
        if any(dims[a] is None for a in axes):
            raise ValueError(f"Input has undefined `axis` dimension. Input shape: {input_shape}")
        self.fused = self.fused is not False and rank == 4 and axes in ([1], [3])
        shape = [dims[axes[0]]] if len(axes) == 1 else [dims[i] if i in axes else 1 for i in range(rank)]
        dtype = self.dtype or dtypes.float32
        if self.scale:
            self.gamma = self.add_weight("gamma", shape, dtype, self.gamma_initializer, self.gamma_regularizer,
                                         constraint=self.gamma_constraint)
        if self.center:
            self.beta = self.add_weight("beta", shape, dtype, self.beta_initializer, self.beta_regularizer,
                                        constraint=self.beta_constraint)
        self.moving_mean = self.add_weight("moving_mean", shape, dtype, self.moving_mean_initializer, trainable=False)
        self.moving_variance = self.add_weight("moving_variance", shape, dtype, self.moving_variance_initializer,
                                               trainable=False)

    def call(self, inputs, training=False):
        rank = inputs.shape.ndims
        reduced = [i for i in range(rank) if i not in self.axis]
        # Parameters of a single axis other than the last are reshaped to broadcast against the inputs.
        broadcast = len(self.axis) == 1 and reduced != list(range(rank - 1))
        shape = [inputs.shape.as_tuple()[a] if a in self.axis else 1 for a in range(rank)]

        def broadcast_to_inputs(v):
            return array_ops.reshape(v, shape) if broadcast and v is not None else v

        training_value = _training_value(training)
        if training_value is False:
            mean, variance = self.moving_mean, self.moving_variance
        else:
            batch_mean, batch_variance = nn_impl.moments(inputs, reduced, keep_dims=len(self.axis) > 1)
            mean, variance = batch_mean, batch_variance
            if training_value is None:
                mean = math_ops.where(training, batch_mean, self.moving_mean)
                variance = math_ops.where(training, batch_variance, self.moving_variance)
            self._add_updates(inputs, mean, variance, batch_variance, reduced, training, training_value)
        outputs = nn_impl.batch_normalization(inputs, broadcast_to_inputs(mean), broadcast_to_inputs(variance),
                                              broadcast_to_inputs(self.beta), broadcast_to_inputs(self.gamma),
                                              self.epsilon)
        outputs.set_shape(inputs.shape)
        return outputs

    def _add_updates(self, inputs, mean, variance, batch_variance, reduced, training, training_value):
        """The moving averages' updates, into `self.updates` and GraphKeys.UPDATE_OPS."""
        if self.fused:  # FusedBatchNorm's batch variance, which the moving variance averages: unbiased
            count = array_ops.cast(array_ops.size(inputs), variance.dtype) / array_ops.cast(
                array_ops.size(batch_variance), variance.dtype)
            corrected = batch_variance * (count / math_ops.maximum(count - 1.0, 1.0))
            variance = corrected if training_value else math_ops.where(training, corrected, self.moving_variance)
        decay = 1.0 - self.momentum
        if training_value is None:
            decay = math_ops.where(training, array_ops.constant(decay, dtype=mean.dtype),
                                   array_ops.constant(0.0, dtype=mean.dtype))
        for variable, value in ((self.moving_mean, mean), (self.moving_variance, variance)):
            with name_scope(None, "AssignMovingAvg", [variable, value]) as scope:
                update = state_ops.assign_sub(variable, (variable - value) * decay, name=scope)
            self.updates.append(update)
            get_default_graph().add_to_collection(GraphKeys.UPDATE_OPS, update)


def batch_normalization(inputs, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                        beta_initializer=init_ops.zeros_initializer(), gamma_initializer=init_ops.ones_initializer(),
                        moving_mean_initializer=init_ops.zeros_initializer(),
                        moving_variance_initializer=init_ops.ones_initializer(), beta_regularizer=None,
                        gamma_regularizer=None, beta_constraint=None, gamma_constraint=None, training=False,
                        trainable=True, name=None, reuse=None, renorm=False, renorm_clipping=None,
                        renorm_momentum=0.99, fused=None, virtual_batch_size=None, adjustment=None):
    """`tf.layers.batch_normalization`: a BatchNormalization layer applied to `inputs`; its
    moving-average updates go to GraphKeys.UPDATE_OPS when `training` is not False."""
    layer = BatchNormalization(axis=axis, momentum=momentum, epsilon=epsilon, center=center, scale=scale,
                               beta_initializer=beta_initializer, gamma_initializer=gamma_initializer,
                               moving_mean_initializer=moving_mean_initializer,
                               moving_variance_initializer=moving_variance_initializer,
                               beta_regularizer=beta_regularizer, gamma_regularizer=gamma_regularizer,
                               beta_constraint=beta_constraint, gamma_constraint=gamma_constraint, renorm=renorm,
                               renorm_clipping=renorm_clipping, renorm_momentum=renorm_momentum, fused=fused,
                               trainable=trainable, virtual_batch_size=virtual_batch_size, adjustment=adjustment,
                               name=name, _scope=name, _reuse=reuse)
    return layer.apply(inputs, training=training)
