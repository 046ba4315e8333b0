"""Candidate sampling: TF's log-uniform (Zipfian) sampler, and the sampled losses built on it,
`tf.nn.nce_loss` and `tf.nn.sampled_softmax_loss` (word2vec's).

The sampler draws class ids in [0, range_max) with P(c) = log((c + 2) / (c + 1)) / log(range_max + 1),
as TF's LogUniformSampler: c = floor(exp(u * log(range_max + 1))) - 1 for u uniform in [0, 1) from
graphc's Philox stream of the op (its seeds follow TF1's seed rules, ops/random_ops.py). With
`unique`, draws repeat until `num_sampled` distinct ids are found, and each expected count is
-expm1(tries * log1p(-P)) (TF's formula); without it, P * num_sampled.

graphc's IR gives an op one result, so the op `log_uniform_sampled` returns its ids and, last, the
number of draws it took ([num_sampled + 1] int64); the builder splits them and computes the expected
counts with elementwise ops. Its uniforms come from a pool of 8 * num_sampled + 256 draws per run (the
kernel's workspace): a unique sample that needs more draws than that (num_sampled close to
range_max) fails the run with InvalidArgumentError instead of drawing on, where TF would draw on.
"""

from __future__ import annotations

import numpy as np

from graphc import errors
from graphc.core import dtypes, registry
from graphc.core.messages import sampler_exhausted
from graphc.core.sampling import log_uniform_ids, sampler_pool_size
from graphc.core.registry import NOT_DIFFERENTIABLE, Effects, OpDef, TensorType
from graphc.frontend.graph import apply_op, convert_to_tensor, name_scope
from graphc.ops import array_ops, elementary_ops, embedding_ops, layout_ops, math_ops, nn_ops, philox
from graphc.ops.random_ops import get_seed


def _sampler_infer(types, attrs):
    return TensorType(dtypes.int64, (int(attrs["num_sampled"]) + 1,))


def _sampler_reference(state, num_sampled, range_max, unique):
    seeds = (int(state[registry.RNG_SEED]), int(state[registry.RNG_SEED2]))
    pool = log_uniform_ids(philox.uniform(sampler_pool_size(num_sampled), np.float64, seeds,
                                          int(state[registry.RNG_RUN])), range_max)
    if not unique:
        return np.concatenate([pool[:num_sampled], [num_sampled]])
    chosen, seen = [], set()
    for tries, candidate in enumerate(pool, start=1):
        if candidate not in seen:
            seen.add(int(candidate))
            chosen.append(candidate)
            if len(chosen) == num_sampled:
                return np.array(chosen + [tries], np.int64)
    raise errors.InvalidArgumentError(None, None, sampler_exhausted(num_sampled, len(chosen), len(pool)))


# Not TF's LogUniformCandidateSampler (true classes in, expected counts out): the draws alone, so its own type
# (a GraphDef names it as graphc's; TF has no form for it: tests/unit/test_tf_graph_form.NO_TF_FORM).
log_uniform_sampled_p = registry.register(OpDef(
    name="log_uniform_sampled", tf_type="LogUniformSampledIds", infer=_sampler_infer,
    effects=Effects(random=True, may_fail=True), reference=_sampler_reference, gradient=NOT_DIFFERENTIABLE,
    workspace=lambda inst: 8 * sampler_pool_size(int(inst.attrs["num_sampled"]))))


def _expected_count(probability, tries, num_sampled, unique):
    """TF's ExpectedCountHelper: P * num_sampled without `unique` (or when no draw repeated), else
    -expm1(tries * log1p(-P))."""
    if not unique:
        return probability * float(num_sampled)
    tries = array_ops.cast(tries, probability.dtype)
    return -elementary_ops.expm1(tries * elementary_ops.log1p(-probability))


def _log_uniform_probability(ids, range_max):
    ids = array_ops.cast(ids, dtypes.float64)
    return math_ops.log((ids + 2.0) / (ids + 1.0)) / float(np.log1p(float(range_max)))


def log_uniform_candidate_sampler(true_classes, num_true, num_sampled, unique, range_max, seed=None, name=None):
    """`tf.random.log_uniform_candidate_sampler`: (sampled ids [num_sampled] int64, expected counts of the
    true classes [batch, num_true] and of the sampled ids [num_sampled], float32)."""
    if unique and num_sampled > range_max:
        raise ValueError(f"Sampler's range is too small: range_max={range_max} < num_sampled={num_sampled}")
    with name_scope(name, "LogUniformCandidateSampler", [true_classes]):
        true_classes = convert_to_tensor(true_classes, dtype=dtypes.int64, name="true_classes")
        seed1, seed2 = get_seed(seed)
        drawn = apply_op("log_uniform_sampled", [], {"num_sampled": int(num_sampled), "range_max": int(range_max),
                                                     "unique": bool(unique), "seed": seed1, "seed2": seed2})
        sampled, tries = drawn[:num_sampled], drawn[num_sampled]
        true_expected = _expected_count(_log_uniform_probability(true_classes, range_max), tries, num_sampled, unique)
        sampled_expected = _expected_count(_log_uniform_probability(sampled, range_max), tries, num_sampled, unique)
        return (sampled, array_ops.cast(true_expected, dtypes.float32),
                array_ops.cast(sampled_expected, dtypes.float32))


def _sampled_logits(weights, biases, labels, inputs, num_sampled, num_classes, num_true, sampled_values,
                    subtract_log_q, remove_accidental_hits, partition_strategy, seed):
    """TF1's _compute_sampled_logits: the logits of each example's true classes and of the shared sampled
    classes, and their labels (1 / num_true for the true ones, 0 for the sampled)."""
    labels = array_ops.cast(labels, dtypes.int64)
    if labels.shape.ndims == 1:
        labels = array_ops.reshape(labels, [-1, num_true])
    flat_labels = array_ops.reshape(labels, [-1])
    if sampled_values is None:
        sampled_values = log_uniform_candidate_sampler(labels, num_true, num_sampled, True, num_classes, seed=seed)
    sampled, true_expected, sampled_expected = (array_ops.stop_gradient(v) for v in sampled_values)
    sampled = array_ops.cast(sampled, dtypes.int64)
    dim = inputs.shape.as_list()[1]
    true_weights = array_ops.reshape(embedding_ops.embedding_lookup(weights, flat_labels, partition_strategy),
                                     [-1, num_true, dim])
    true_biases = array_ops.reshape(embedding_ops.embedding_lookup(biases, flat_labels, partition_strategy),
                                    [-1, num_true])
    sampled_weights = embedding_ops.embedding_lookup(weights, sampled, partition_strategy)
    sampled_biases = embedding_ops.embedding_lookup(biases, sampled, partition_strategy)
    true_logits = math_ops.reduce_sum(layout_ops.expand_dims(inputs, 1) * true_weights, -1) + true_biases
    sampled_logits = math_ops.matmul(inputs, sampled_weights, transpose_b=True) + sampled_biases
    if remove_accidental_hits:
        hits = math_ops.reduce_any(math_ops.equal(layout_ops.expand_dims(labels, 2),
                                                  array_ops.reshape(sampled, [1, 1, -1])), 1)
        sampled_logits = sampled_logits + array_ops.cast(hits, sampled_logits.dtype) * -np.finfo(np.float32).max
    if subtract_log_q:
        true_logits = true_logits - math_ops.log(array_ops.cast(true_expected, true_logits.dtype))
        sampled_logits = sampled_logits - math_ops.log(array_ops.cast(sampled_expected, sampled_logits.dtype))
    logits = layout_ops.concat([true_logits, sampled_logits], 1)
    targets = layout_ops.concat([array_ops.ones_like(true_logits) / float(num_true),
                                 array_ops.zeros_like(sampled_logits)], 1)
    return logits, targets


def nce_loss(weights, biases, labels, inputs, num_sampled, num_classes, num_true=1, sampled_values=None,
             remove_accidental_hits=False, partition_strategy="mod", name="nce_loss", seed=None):
    """`tf.nn.nce_loss`: noise-contrastive estimation, per example: the sigmoid cross-entropy of the true
    classes' logits against 1 / num_true and of the sampled classes' against 0 (log Q subtracted)."""
    with name_scope(name, "nce_loss", [weights, biases, labels, inputs]):
        inputs = convert_to_tensor(inputs, name="inputs")
        logits, targets = _sampled_logits(weights, biases, labels, inputs, num_sampled, num_classes, num_true,
                                          sampled_values, True, remove_accidental_hits, partition_strategy, seed)
        # max(x, 0) - x * z + log(1 + exp(-|x|)): TF's sigmoid_cross_entropy_with_logits, stable for large |x|.
        losses = (nn_ops.relu(logits) - logits * targets + elementary_ops.log1p(math_ops.exp(-math_ops.abs(logits))))
        return math_ops.reduce_sum(losses, 1)


def sampled_softmax_loss(weights, biases, labels, inputs, num_sampled, num_classes, num_true=1, sampled_values=None,
                         remove_accidental_hits=True, partition_strategy="mod", name="sampled_softmax_loss",
                         seed=None):
    """`tf.nn.sampled_softmax_loss`: per example, the softmax cross-entropy over the true and the sampled
    classes' logits (log Q subtracted, sampled hits of a true class removed)."""
    with name_scope(name, "sampled_softmax_loss", [weights, biases, labels, inputs]):
        inputs = convert_to_tensor(inputs, name="inputs")
        logits, targets = _sampled_logits(weights, biases, labels, inputs, num_sampled, num_classes, num_true,
                                          sampled_values, True, remove_accidental_hits, partition_strategy, seed)
        return nn_ops.softmax_cross_entropy_with_logits_v2(labels=array_ops.stop_gradient(targets), logits=logits)
