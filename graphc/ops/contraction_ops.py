"""Tensor contractions built as graph: `tf.tensordot` and `tf.einsum`.

As TF 1.15 builds them (math_ops.tensordot, special_math_ops.einsum), neither is an op
of its own: each operand is transposed so that its free and contracted dimensions are
contiguous, reshaped to a matrix (or a batch of them), multiplied by MatMul (or
BatchMatMulV2), and the product reshaped (and transposed) to the result. Gradients come
from those ops. Sizes unknown while building come from `tf.shape`, which the compiler
knows when it compiles a step.
"""

from __future__ import annotations

import re

import numpy as np

from graphc.core import dtypes
from graphc.frontend.graph import convert_to_tensor, name_scope
from graphc.ops import array_ops, layout_ops, math_ops


def _size(x, axes):
    """The product of x's dimensions `axes`: an int where they are known, else an int32 scalar tensor."""
    dims = x.shape.as_tuple()
    if all(dims[a] is not None for a in axes):
        return int(np.prod([dims[a] for a in axes], dtype=np.int64))
    x_shape = array_ops.shape(x)
    return math_ops.reduce_prod(layout_ops.stack([x_shape[a] for a in axes]))


def _reshaped(x, sizes, name=None):
    """x reshaped to `sizes` (ints, or int32 scalar tensors where unknown while building), with
    the static shape those give (a target computed from tf.shape leaves it unknown otherwise)."""
    if all(isinstance(s, int) for s in sizes):
        return array_ops.reshape(x, list(sizes), name=name)
    target = layout_ops.stack([convert_to_tensor(s, dtype=dtypes.int32) for s in sizes])
    result = array_ops.reshape(x, target, name=name)
    result.set_shape([s if isinstance(s, int) else None for s in sizes])
    return result


def _transposed(x, perm):
    return x if list(perm) == list(range(len(perm))) else array_ops.transpose(x, list(perm))


def _known_rank(x, what):
    rank = x.shape.ndims
    if rank is None:
        raise ValueError(f"graphc: {what} needs operands of known rank, got {x.name} of unknown rank")
    return rank


# -- tensordot ---------------------------------------------------------------------------------


def _tensordot_axes(a, axes):
    """(a's contracted axes, b's) from TF's `axes`: an int N (a's last N, b's first N) or a pair of lists."""
    if isinstance(axes, (int, np.integer)):
        if axes < 0:
            raise ValueError(f"`axes` must be at least 0. Received: {axes}.")
        rank = _known_rank(a, "tensordot")
        if axes > rank:
            raise ValueError(f"`axes` must not be larger than the number of dimensions of tensor {a}.  Received "
                             f"{axes}, vs tensor dimensions {rank}.")
        return list(range(rank - axes, rank)), list(range(axes))
    if isinstance(axes, (list, tuple)) or (isinstance(axes, np.ndarray) and axes.ndim > 0):
        if len(axes) != 2:
            raise ValueError(f"`axes` must be an integer or have length 2. Received {axes}.")
        a_axes, b_axes = axes
        if np.ndim(a_axes) == 0 and np.ndim(b_axes) == 0:
            a_axes, b_axes = [a_axes], [b_axes]
        a_axes, b_axes = [int(i) for i in a_axes], [int(i) for i in b_axes]
        if len(a_axes) != len(b_axes):
            raise ValueError(f"Different number of contraction axes `a` and `b`, {len(a_axes)} != {len(b_axes)}.")
        return a_axes, b_axes
    raise ValueError(f"graphc: tensordot's axes must be an int or a pair of axis lists, got {axes!r}")


def _as_matrix(x, contracted, contracted_first):
    """x transposed and reshaped to [free, contracted] (or [contracted, free]); also its free sizes."""
    rank = _known_rank(x, "tensordot")
    contracted = [a % rank for a in contracted]
    free = [a for a in range(rank) if a not in contracted]
    perm = contracted + free if contracted_first else free + contracted
    matrix_shape = [_size(x, contracted), _size(x, free)]
    matrix = _reshaped(_transposed(x, perm), matrix_shape[::1 if contracted_first else -1])
    return matrix, [_size(x, [a]) for a in free]


def tensordot(a, b, axes, name=None):
    """`tf.tensordot`: the sum over a's axes `axes[0]` and b's `axes[1]` of the products of their
    elements (an int N: a's last N axes with b's first N), as TF builds it from MatMul."""
    with name_scope(name, "Tensordot", [a, b]) as scope:
        a = convert_to_tensor(a, name="a")
        b = convert_to_tensor(b, name="b")
        a_axes, b_axes = _tensordot_axes(a, axes)
        a_matrix, a_free = _as_matrix(a, a_axes, contracted_first=False)
        b_matrix, b_free = _as_matrix(b, b_axes, contracted_first=True)
        return _reshaped(math_ops.matmul(a_matrix, b_matrix), a_free + b_free, name=scope)


# -- einsum ------------------------------------------------------------------------------------

_TERM = re.compile(r"^[a-zA-Z]*$")


def _parse(equation: str, count: int):
    """(input index strings, output index string) of an equation; the implicit output is the
    indices that appear once, in alphabetical order, as NumPy and TF have it."""
    text = equation.replace(" ", "")
    inputs_text, arrow, output = text.partition("->")
    inputs = inputs_text.split(",")
    if "." in text:
        raise ValueError(f"graphc: tf.einsum does not support ellipses ('...'), in equation {equation!r}")
    if not all(_TERM.match(term) for term in inputs + [output]):
        raise ValueError(f"Indices must be letters, in equation {equation!r}")
    if len(inputs) != count:
        raise ValueError(f"Got {count} inputs for equation \"{equation}\", expecting {len(inputs)}")
    if not arrow:
        letters = "".join(inputs)
        output = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    if len(set(output)) != len(output):
        raise ValueError(f"Output subscripts '{output}' repeat an index, in equation {equation!r}")
    for c in output:
        if not any(c in term for term in inputs):
            raise ValueError(f"Output subscript '{c}' does not appear in the input subscripts of {equation!r}")
    return inputs, output


def _check_shapes(tensors, terms, equation):
    """TF's Einsum shape rule: one dimension per subscript, and the sizes of an index agree."""
    sizes = {}
    for number, (t, term) in enumerate(zip(tensors, terms)):
        rank = _known_rank(t, "tf.einsum")
        if rank != len(term):
            raise ValueError(f"Shape must be rank {len(term)} but is rank {rank} for {number}th input and equation: "
                             f"{equation}")
        for c, size in zip(term, t.shape.as_tuple()):
            known = sizes.setdefault(c, size)
            if known is not None and size is not None and known != size:
                raise ValueError(f"Dimensions must be equal, but are {known} and {size} for index '{c}' of "
                                 f"equation: {equation}")
            sizes[c] = known if known is not None else size


def _diagonals(x, term, equation):
    """x with each index repeated within `term` taken once (its diagonal: 'ii' -> 'i'): the
    elements off the diagonal replaced by zeros, then summed away. The size must be known while
    building (the diagonal's mask is a constant)."""
    while len(set(term)) != len(term):
        first = next(i for i, c in enumerate(term) if c in term[i + 1:])
        second = term.index(term[first], first + 1)
        size = x.shape.as_tuple()[first]
        if size is None:
            raise ValueError(f"graphc: tf.einsum takes the diagonal of index '{term[first]}' (equation {equation!r}) "
                             f"only where its size is known while building, not in {x.name} of shape {x.shape}")
        mask_shape = [1] * len(term)
        mask_shape[first] = mask_shape[second] = size
        mask = np.eye(size, dtype=bool).reshape(mask_shape)
        x = math_ops.reduce_sum(math_ops.where(mask, x, array_ops.zeros_like(x)), second)
        term = term[:second] + term[second + 1:]
    return x, term


def _sum_out(x, term, keep):
    """x summed over the indices of `term` not in `keep`; (result, its term)."""
    summed = [i for i, c in enumerate(term) if c not in keep]
    if not summed:
        return x, term
    return math_ops.reduce_sum(x, summed), "".join(c for c in term if c in keep)


def _contract(a, a_term, b, b_term, keep):
    """The einsum of two operands, keeping the indices in `keep` (the others both hold are summed):
    [batch, a's free, contracted] @ [batch, contracted, b's free] by (Batch)MatMul."""
    a, a_term = _sum_out(a, a_term, keep + b_term)
    b, b_term = _sum_out(b, b_term, keep + a_term)
    batch = [c for c in a_term if c in b_term and c in keep]
    contracted = [c for c in a_term if c in b_term and c not in keep]
    a_free = [c for c in a_term if c not in b_term]
    b_free = [c for c in b_term if c not in a_term]

    def sizes(x, term, letters):
        return [_size(x, [term.index(c)]) for c in letters]

    batch_sizes = sizes(a, a_term, batch)
    a_sizes, b_sizes = sizes(a, a_term, a_free), sizes(b, b_term, b_free)
    m, n = _size(a, [a_term.index(c) for c in a_free]), _size(b, [b_term.index(c) for c in b_free])
    k = _size(a, [a_term.index(c) for c in contracted])
    a_matrix = _reshaped(_transposed(a, [a_term.index(c) for c in batch + a_free + contracted]), batch_sizes + [m, k])
    b_matrix = _reshaped(_transposed(b, [b_term.index(c) for c in batch + contracted + b_free]), batch_sizes + [k, n])
    product = math_ops.matmul(a_matrix, b_matrix)
    return _reshaped(product, batch_sizes + a_sizes + b_sizes), "".join(batch + a_free + b_free)


def einsum(equation, *inputs, **kwargs):
    """`tf.einsum` of one or more operands, built as TF 1.15 builds it: indices summed out of one
    operand by Sum, pairs of operands (left to right) contracted by transposes, reshapes and
    (Batch)MatMul, the result transposed to the output's order; an index repeated within one
    term takes a diagonal ('ii->i', 'ii->'). Ellipses raise ValueError naming the equation."""
    name = kwargs.pop("name", None)
    if kwargs:
        raise TypeError(f"invalid keyword arguments for this function: {', '.join(sorted(kwargs))}")
    with name_scope(name, "einsum", list(inputs)) as scope:
        tensors = [convert_to_tensor(x) for x in inputs]
        terms, output = _parse(equation, len(tensors))
        _check_shapes(tensors, terms, equation)
        tensors, terms = zip(*(_diagonals(t, term, equation) for t, term in zip(tensors, terms)))
        result, term = _sum_out(tensors[0], terms[0], output + "".join(terms[1:]))
        for i in range(1, len(tensors)):
            keep = output + "".join(terms[i + 1:])
            result, term = _contract(result, term, tensors[i], terms[i], keep)
        result, term = _sum_out(result, term, output)
        return array_ops.identity(_transposed(result, [term.index(c) for c in output]), name=scope)
