"""Convolution and pooling (`tf.nn.conv2d`, `max_pool`, `avg_pool`) and their gradient ops.

Layouts are TF1's defaults: NHWC images, HWIO filters. `Window` (core/windows.py)
holds the spatial arithmetic every rule, reference and kernel shares (TF's
SAME/VALID padding). The gradient ops are graph ops, as in TF1, so autodiff builds them;
their size inputs (`input_sizes`, `filter_sizes`, `orig_input_shape`) come last
in graphc's graphs (trailing inputs known at compile time become attributes),
while the public functions take them in TF's order.
"""

from __future__ import annotations

import numpy as np

from graphc import errors
from graphc.core import dtypes, products, registry, rules
from graphc.core.registry import FusionClass, OpDef, ShapeError, TensorType
from graphc.core.rules import FLOAT_TYPES, NUMERIC_TYPES
from graphc.core.tensor_shape import is_fully_defined
from graphc.core.windows import Convolution, Window, conv_window, pool_window
from graphc.frontend.graph import apply_op, convert_to_tensor, name_scope
from graphc.ops import array_ops

PADDINGS = ("SAME", "VALID")


def _check_attrs(attrs, what: str) -> None:
    if attrs.get("data_format", "NHWC") != "NHWC":
        raise ShapeError(f"graphc's {what} supports data_format NHWC only, got {attrs['data_format']}")
    if attrs["padding"] not in PADDINGS:
        raise ShapeError(f"padding must be SAME or VALID, got {attrs['padding']}")
    for key in ("strides", "dilations", "ksize"):
        value = attrs.get(key)
        if value is not None and (len(value) != 4 or any(v < 1 for v in value)):
            raise ShapeError(f"{key} must be 4 positive integers, got {list(value)}")
    if attrs.get("dilations", (1, 1, 1, 1)) != (1, 1, 1, 1) and attrs["strides"] != (1, 1, 1, 1):
        raise ShapeError("strides > 1 are not supported together with dilations > 1")


def _check_conv_batch_and_depth(attrs, result) -> None:
    """TF1's convolution kernels stride and dilate along neither batch nor depth: they fail when they run."""
    for key in ("strides", "dilations"):
        value = attrs.get(key) or (1, 1, 1, 1)
        if value[0] != 1 or value[3] != 1:
            raise rules.RejectedWhenRun(f"Current implementation does not yet support {key} in the batch and "
                                        "depth dimensions.", result, errors.UnimplementedError)


def _check_pool_batch_and_depth(attrs, result, is_max: bool) -> None:
    """TF1's pooling kernels pool along no batch, and along depth only alone (max pooling only, which
    graphc does not implement): they fail when they run."""
    ksize, strides = attrs["ksize"], attrs["strides"]
    if ksize[0] != 1 or strides[0] != 1:
        message = "Pooling is not yet supported on the batch dimension."
    elif ksize[3] == 1 and strides[3] == 1:
        return
    elif ksize[1:3] != (1, 1):
        message = "MaxPooling supports exactly one of pooling across depth or pooling across width/height."
    elif is_max:
        message = "graphc does not implement max pooling across the depth dimension"
    else:
        message = "Non-spatial pooling is not yet supported. Volunteers? :)"
    raise rules.RejectedWhenRun(message, result, errors.UnimplementedError)


def _window_of(image_dims, k_h, k_w, attrs):
    """The Window for partial NHWC dims (None when H, W or the kernel is not known yet)."""
    if image_dims is None or None in (image_dims[1], image_dims[2], k_h, k_w):
        return None
    return Window.of(image_dims[1], image_dims[2], k_h, k_w, attrs["strides"], attrs["padding"],
                     attrs.get("dilations") or (1, 1, 1, 1))


def _nhwc(types_or_dims, what: str):
    dims = types_or_dims.dims
    if dims is not None and len(dims) != 4:
        raise ShapeError(f"{what} must be 4-dimensional (NHWC), got rank {len(dims)}")
    return dims if dims is not None else (None,) * 4


def _output_dims(image, window, channels):
    if window is None:
        return (image[0], None, None, channels)
    return (image[0], window.out_h, window.out_w, channels)


# -- Conv2D ---------------------------------------------------------------------------------------


def _conv_infer(types, attrs):
    dtype = rules.same_dtype(types, FLOAT_TYPES)
    _check_attrs(attrs, "Conv2D")
    image = _nhwc(types[0], "input")
    kernel = _nhwc(types[1], "filter")
    depth, filter_depth = image[3], kernel[2]
    if depth is not None and filter_depth is not None:
        if filter_depth == 0:
            raise ShapeError("Depth of filter must not be 0")
        if depth % filter_depth:
            raise ShapeError(f"Depth of input ({depth}) is not a multiple of input depth of filter ({filter_depth})")
    result = TensorType(dtype, _output_dims(image, _window_of(image, kernel[0], kernel[1], attrs), kernel[3]))
    _check_conv_batch_and_depth(attrs, result)
    if depth is not None and filter_depth is not None and depth != filter_depth:
        raise rules.RejectedWhenRun(f"graphc does not implement grouped convolutions (input depth {depth}, "
                                    f"filter input depth {filter_depth})", result, errors.UnimplementedError)
    if is_fully_defined(kernel) and 0 in kernel and is_fully_defined(result.dims) and 0 not in result.dims:
        raise rules.RejectedWhenRun("filter must not have zero elements (i.e. all dimensions must be non-zero)",
                                    result)
    return result


def _conv_reference(x, w, strides, padding, data_format="NHWC", dilations=(1, 1, 1, 1)):
    # Summed in float64 and rounded once, each product rounded to x's dtype first where one may overflow
    # (core/products.py): TF 2.21's float32 conv of [5e37, -inf] with [10, 1] is NaN (inf - inf).
    window = conv_window(x.shape, w.shape, dict(strides=strides, padding=padding, dilations=dilations))
    padded = window.padded(x, 0)
    out = np.zeros((x.shape[0], window.out_h, window.out_w, w.shape[3]), products.accumulator_dtype(x.dtype))
    for kh, kw, rows, cols in window.taps():
        taps = padded[:, rows][:, :, cols]
        out += products.contract(taps.reshape(-1, taps.shape[-1]), w[kh, kw]).reshape(out.shape)
    return out.astype(x.dtype)


conv2d_p = registry.register(OpDef(name="conv2d", tf_type="Conv2D", infer=_conv_infer,
                                   fusion=FusionClass.ANCHOR, anchor="conv", epilogue_in_place=True,
                                   reference=_conv_reference,
                                   workspace=lambda inst: Convolution.forward(inst).workspace_bytes,
                                   block_workspace=lambda inst: Convolution.forward(inst).image_blocks_bytes))


def _conv_attrs(op):
    return {k: op.attrs[k] for k in ("strides", "padding", "data_format", "dilations")}


@registry.set_gradient(conv2d_p)
def _conv_grad(op, g):
    x, w = op.inputs
    attrs = _conv_attrs(op)
    return [apply_op("conv2d_backprop_input", [w, g, array_ops.shape(x)], attrs),
            apply_op("conv2d_backprop_filter", [x, g, array_ops.shape(w)], attrs)]


# -- Conv2DBackpropInput: d conv / d input -------------------------------------------------------------


def _sizes(attrs, key):
    """A size input (input_sizes ...) as partial dims: None while unknown; 4 of them."""
    value = attrs[key]
    sizes = None if value is None else rules.shape_value_to_dims(value)
    if sizes is not None and len(sizes) != 4:
        raise ShapeError(f"{key} must have 4 elements, got {len(sizes)}")
    return sizes


def _backprop_input_infer(types, attrs):
    dtype = rules.same_dtype(types, FLOAT_TYPES)
    _check_attrs(attrs, "Conv2DBackpropInput")
    sizes = _sizes(attrs, "input_sizes")
    kernel, grad = _nhwc(types[0], "filter"), _nhwc(types[1], "out_backprop")
    _check_backprop_shapes(sizes, kernel, grad, attrs)
    result = TensorType(dtype, sizes if sizes is not None else (grad[0], None, None, kernel[2]))
    _check_conv_batch_and_depth(attrs, result)
    return result


def _check_backprop_shapes(image, kernel, grad, attrs):
    """The gradient's shape must be what the forward convolution of `image` with `kernel` gives."""
    if image is None or kernel is None:
        return
    rules.merge_dim(image[3], kernel[2], "input depth and filter in_channels")
    rules.merge_dim(grad[3], kernel[3], "out_backprop depth and filter out_channels")
    window = _window_of(image, kernel[0], kernel[1], attrs)
    if window is not None:
        rules.merge_dim(grad[1], window.out_h, "out_backprop height")
        rules.merge_dim(grad[2], window.out_w, "out_backprop width")


def _backprop_input_reference(w, dy, input_sizes, strides, padding, data_format="NHWC", dilations=(1, 1, 1, 1)):
    sizes = tuple(int(s) for s in np.asarray(input_sizes).reshape(-1))
    window = conv_window(sizes, w.shape, dict(strides=strides, padding=padding, dilations=dilations))
    wide = products.accumulator_dtype(dy.dtype)
    padded = window.padded(np.zeros(sizes, wide), 0)
    for kh, kw, rows, cols in window.taps():
        padded[:, rows[:, None], cols[None, :]] += np.tensordot(dy.astype(wide), w[kh, kw].astype(wide),
                                                                axes=([3], [1]))
    return np.ascontiguousarray(window.cropped(padded)).astype(dy.dtype)


conv2d_backprop_input_p = registry.register(OpDef(
    name="conv2d_backprop_input", tf_type="Conv2DBackpropInput", infer=_backprop_input_infer,
    # The anchor of a conv_input_gradient kernel: the ReLU gradient of the layer below runs as its epilogue
    # on each image's dx while it is in L2 (kernels/conv.py), instead of reading dx back from memory.
    fusion=FusionClass.ANCHOR, anchor="conv_input_gradient", epilogue_in_place=True,
    static_inputs=("input_sizes",), tf_input_order=(2, 0, 1), reference=_backprop_input_reference,
    workspace=lambda inst: Convolution.input_gradient(inst).workspace_bytes))


@registry.set_gradient(conv2d_backprop_input_p)
def _backprop_input_grad(op, g):
    w, dy = op.inputs[:2]
    attrs = _conv_attrs(op)
    return [apply_op("conv2d_backprop_filter", [g, dy, array_ops.shape(w)], attrs),
            apply_op("conv2d", [g, w], attrs), None]


# -- Conv2DBackpropFilter: d conv / d filter ----------------------------------------------------------


def _backprop_filter_infer(types, attrs):
    dtype = rules.same_dtype(types, FLOAT_TYPES)
    _check_attrs(attrs, "Conv2DBackpropFilter")
    sizes = _sizes(attrs, "filter_sizes")
    image, grad = _nhwc(types[0], "input"), _nhwc(types[1], "out_backprop")
    _check_backprop_shapes(image, sizes, grad, attrs)
    result = TensorType(dtype, sizes if sizes is not None else (None, None, image[3], grad[3]))
    _check_conv_batch_and_depth(attrs, result)
    return result


def _column_sum_operand(inst):
    """dy's index, where the filter gradient's kernel can sum dy's columns on the way: the direct and
    register-tiled paths (the im2col GEMM and a pointwise window's never see dy's rows whole)."""
    convolution = Convolution.filter_gradient(inst)
    return 1 if convolution.direct or convolution.tiled else None


def _backprop_filter_reference(x, dy, filter_sizes, strides, padding, data_format="NHWC", dilations=(1, 1, 1, 1)):
    sizes = tuple(int(s) for s in np.asarray(filter_sizes).reshape(-1))
    window = conv_window(x.shape, sizes, dict(strides=strides, padding=padding, dilations=dilations))
    wide = products.accumulator_dtype(x.dtype)
    padded = window.padded(x.astype(wide), 0)
    dw = np.zeros(sizes, wide)
    for kh, kw, rows, cols in window.taps():
        dw[kh, kw] = np.tensordot(padded[:, rows][:, :, cols], dy.astype(wide), axes=([0, 1, 2], [0, 1, 2]))
    return dw.astype(x.dtype)


conv2d_backprop_filter_p = registry.register(OpDef(
    name="conv2d_backprop_filter", tf_type="Conv2DBackpropFilter", infer=_backprop_filter_infer,
    fusion=FusionClass.OPAQUE, static_inputs=("filter_sizes",), tf_input_order=(0, 2, 1), reference=_backprop_filter_reference,
    workspace=lambda inst: Convolution.filter_gradient(inst).workspace_bytes,
    # a direct or register-tiled filter gradient (the CNN's conv1 and conv2) sums dy's columns too, the
    # bias gradient: dy read once
    column_sum=("conv_filter_gradient_sum", _column_sum_operand)))


@registry.set_gradient(conv2d_backprop_filter_p)
def _backprop_filter_grad(op, g):
    x, dy = op.inputs[:2]
    attrs = _conv_attrs(op)
    return [apply_op("conv2d_backprop_input", [g, dy, array_ops.shape(x)], attrs),
            apply_op("conv2d", [x, g], attrs), None]


# -- pooling ----------------------------------------------------------------------------------------------


def _pooled_dims(image, attrs, is_max: bool):
    """The dims of a pooling's output, as TF1 infers them: max pooling windows the depth too, so a
    VALID max pool over 0 channels is refused even with a depth window of 1, as TF's shape function
    refuses it ("subtracting 1 from 0")."""
    depth, k, stride = image[3], attrs["ksize"][3], attrs["strides"][3]
    if is_max and depth is not None:
        if attrs["padding"] == "SAME":
            depth = -(-depth // stride)
        elif depth < k:
            raise ShapeError(f"Negative dimension size caused by subtracting {k} from {depth}")
        else:
            depth = (depth - k) // stride + 1
    return _output_dims(image, _window_of(image, attrs["ksize"][1], attrs["ksize"][2], attrs), depth)


def _pool_infer(is_max: bool):
    def infer(types, attrs):
        # TF's MaxPool takes integers too (TF 2.21 pools int32 and int64); AvgPool floats only.
        dtype = rules.same_dtype(types[:1], NUMERIC_TYPES if is_max else FLOAT_TYPES)
        _check_attrs(attrs, "pooling")
        result = TensorType(dtype, _pooled_dims(_nhwc(types[0], "value"), attrs, is_max))
        _check_pool_batch_and_depth(attrs, result, is_max)
        return result

    return infer


def _first_max(x, ksize, strides, padding):
    """(max, tap index of the first maximum) per output element as TF's MaxPoolGrad finds it:
    taps are scanned row-major from the first, and a later one wins only if strictly greater
    (so a NaN first tap keeps the gradient, as TF 2.21 routes it)."""
    window = pool_window(x.shape, dict(ksize=ksize, strides=strides, padding=padding))
    padded = window.padded(x, 0)
    shape = (x.shape[0], window.out_h, window.out_w, x.shape[3])
    best, index = np.zeros(shape, x.dtype), np.full(shape, -1)
    for tap, (kh, kw, rows, cols) in enumerate(window.taps()):
        candidate = padded[:, rows][:, :, cols]
        take = window.valid(rows, cols)[None, :, :, None] & ((index < 0) | (candidate > best))
        best = np.where(take, candidate, best)
        index = np.where(take, tap, index)
    return window, best, index


def _max_pool_reference(x, ksize, strides, padding, data_format="NHWC"):
    """TF's MaxPool: from the dtype's lowest value, each tap strictly greater is taken, so NaN never
    wins (TF 2.21: [nan, 1, 2, 3] gives 3; a window of -inf or NaN the lowest float)."""
    window = pool_window(x.shape, dict(ksize=ksize, strides=strides, padding=padding))
    lowest = (np.finfo if x.dtype.kind == "f" else np.iinfo)(x.dtype).min
    padded = window.padded(x, lowest)
    best = np.full((x.shape[0], window.out_h, window.out_w, x.shape[3]), lowest, x.dtype)
    for kh, kw, rows, cols in window.taps():
        candidate = padded[:, rows][:, :, cols]
        best = np.where(candidate > best, candidate, best)
    return best


def _avg_pool_reference(x, ksize, strides, padding, data_format="NHWC"):
    """TF's AvgPool: summed in x's dtype, each window row and then the rows, in order (as the kernel),
    so that a float32 window sum overflows and cancels as TF's does (TF 2.21: the average of
    [-2e38, -2e38] is -inf, of [0.14, 1e9, -1e9] is 0)."""
    window = pool_window(x.shape, dict(ksize=ksize, strides=strides, padding=padding))
    padded = window.padded(x, 0)
    shape = (x.shape[0], window.out_h, window.out_w, x.shape[3])
    total, row_total = np.zeros(shape, x.dtype), np.zeros(shape, x.dtype)
    count = np.zeros((window.out_h, window.out_w), np.int64)
    with np.errstate(invalid="ignore", over="ignore"):
        for kh, kw, rows, cols in window.taps():
            if kw == 0:
                row_total[...] = 0
            row_total += padded[:, rows][:, :, cols]
            count += window.valid(rows, cols)
            if kw == window.k_w - 1:
                total += row_total
        return total / count[None, :, :, None].astype(x.dtype)


max_pool_p = registry.register(OpDef(name="max_pool", tf_type="MaxPool", infer=_pool_infer(is_max=True),
                                     fusion=FusionClass.OPAQUE, reference=_max_pool_reference,
                                     final_stage=("conv", "conv_max_pool", "conv_then_max_pool")))
avg_pool_p = registry.register(OpDef(name="avg_pool", tf_type="AvgPool", infer=_pool_infer(is_max=False),
                                     fusion=FusionClass.OPAQUE, reference=_avg_pool_reference))


def _pool_attrs(op):
    return {k: op.attrs[k] for k in ("ksize", "strides", "padding", "data_format")}


@registry.set_gradient(max_pool_p)
def _max_pool_grad(op, g):
    return [apply_op("max_pool_grad", [op.inputs[0], op.outputs[0], g], _pool_attrs(op))]


@registry.set_gradient(avg_pool_p)
def _avg_pool_grad(op, g):
    return [apply_op("avg_pool_grad", [g, array_ops.shape(op.inputs[0])], _pool_attrs(op))]


def _max_pool_grad_infer(types, attrs):
    dtype = rules.same_dtype(types, FLOAT_TYPES)
    _check_attrs(attrs, "pooling")
    image = _nhwc(types[0], "orig_input")
    expected = _pooled_dims(image, attrs, is_max=True)
    for t, what in ((types[1], "orig_output"), (types[2], "grad")):
        dims = _nhwc(t, what)
        for a, b in zip(dims, expected):
            rules.merge_dim(a, b, what)
    result = TensorType(dtype, image)
    _check_pool_batch_and_depth(attrs, result, is_max=True)
    return result


def _max_pool_grad_reference(x, y, g, ksize, strides, padding, data_format="NHWC"):
    """g routed to the first maximum of each window (y is not needed: the maxima are recomputed)."""
    window, _, index = _first_max(x, ksize, strides, padding)
    padded = window.padded(np.zeros_like(x), 0)
    for tap, (kh, kw, rows, cols) in enumerate(window.taps()):
        padded[:, rows[:, None], cols[None, :]] += np.where(index == tap, g, 0).astype(x.dtype)
    return np.ascontiguousarray(window.cropped(padded))


# The anchor of a pool_grad kernel: the ReLU gradient after a pool of ReLU outputs runs as its epilogue,
# on each image's dx while it is in L2 (kernels/pool.py), instead of reading dx back from memory.
max_pool_grad_p = registry.register(OpDef(name="max_pool_grad", tf_type="MaxPoolGrad", infer=_max_pool_grad_infer,
                                          fusion=FusionClass.ANCHOR, anchor="pool_grad", epilogue_in_place=True,
                                          reference=_max_pool_grad_reference))


@registry.set_gradient(max_pool_grad_p)
def _max_pool_grad_grad(op, g):
    raise LookupError(f"No gradient defined for operation '{op.name}' (op type: MaxPoolGrad): "
                      "graphc has no MaxPoolGradGrad yet")


def _avg_pool_grad_infer(types, attrs):
    dtype = rules.same_dtype(types, FLOAT_TYPES)
    _check_attrs(attrs, "pooling")
    sizes = _sizes(attrs, "orig_input_shape")
    grad = _nhwc(types[0], "grad")
    if sizes is not None:
        expected = _pooled_dims(sizes, attrs, is_max=False)
        for a, b in zip(grad, expected):
            rules.merge_dim(a, b, "grad")
    result = TensorType(dtype, sizes if sizes is not None else (grad[0], None, None, grad[3]))
    _check_pool_batch_and_depth(attrs, result, is_max=False)
    return result


def _avg_pool_grad_reference(g, orig_input_shape, ksize, strides, padding, data_format="NHWC"):
    sizes = tuple(int(s) for s in np.asarray(orig_input_shape).reshape(-1))
    window = pool_window(sizes, dict(ksize=ksize, strides=strides, padding=padding))
    count = np.zeros((window.out_h, window.out_w), np.int64)
    for kh, kw, rows, cols in window.taps():
        count += window.valid(rows, cols)
    share = (g / count[None, :, :, None].astype(g.dtype)).astype(g.dtype)
    padded = window.padded(np.zeros(sizes, g.dtype), 0)
    for kh, kw, rows, cols in window.taps():
        padded[:, rows[:, None], cols[None, :]] += share
    return np.ascontiguousarray(window.cropped(padded))


avg_pool_grad_p = registry.register(OpDef(
    name="avg_pool_grad", tf_type="AvgPoolGrad", infer=_avg_pool_grad_infer, fusion=FusionClass.OPAQUE,
    static_inputs=("orig_input_shape",), reference=_avg_pool_grad_reference, tf_input_order=(1, 0)))


@registry.set_gradient(avg_pool_grad_p)
def _avg_pool_grad_grad(op, g):
    return [apply_op("avg_pool", [g], _pool_attrs(op)), None]


# -- the public functions -------------------------------------------------------------------------------


def _four(value, what: str) -> tuple:
    """TF's 1, 2 or 4-element strides/ksize/dilations as 4 ints (1 in the N and C places)."""
    if value is None:
        return (1, 1, 1, 1)
    values = [int(v) for v in np.asarray(value).reshape(-1)]
    if len(values) == 1:
        values = values * 2
    if len(values) == 2:
        values = [1] + values + [1]
    if len(values) != 4:
        raise ValueError(f"{what} should be of length 1, 2 or 4, got {len(values)}")
    return tuple(values)


def _conv_op_attrs(strides, padding, data_format, dilations):
    return {"strides": _four(strides, "strides"), "padding": str(padding).upper(), "data_format": data_format,
            "dilations": _four(dilations, "dilations")}


def conv2d(input, filter=None, strides=None, padding=None, use_cudnn_on_gpu=True, data_format="NHWC",
           dilations=None, name=None, filters=None):
    """`tf.nn.conv2d`: NHWC input, HWIO filter, SAME or VALID padding as TF computes it."""
    filter = filters if filter is None else filter
    if filter is None or strides is None or padding is None:
        raise ValueError("conv2d needs filter, strides and padding")
    return apply_op("conv2d", [input, filter], _conv_op_attrs(strides, padding, data_format, dilations),
                    name=name)


def conv2d_backprop_input(input_sizes, filter, out_backprop, strides, padding, use_cudnn_on_gpu=True,
                          data_format="NHWC", dilations=None, name=None):
    """`tf.nn.conv2d_backprop_input`: the gradient of conv2d with respect to its input."""
    filter = convert_to_tensor(filter)
    sizes = convert_to_tensor(input_sizes, dtype=None if hasattr(input_sizes, "dtype") else dtypes.int32,
                              graph=filter.graph)
    return apply_op("conv2d_backprop_input", [filter, out_backprop, sizes],
                    _conv_op_attrs(strides, padding, data_format, dilations), name=name)


def conv2d_transpose(value, filter, output_shape, strides, padding="SAME", data_format="NHWC", name=None,
                     input=None, filters=None, dilations=None):  # noqa: A002 - TF1's names
    """`tf.nn.conv2d_transpose`: the gradient of a conv2d with respect to its input, taken as a layer
    (a "deconvolution"): `value` [batch, h, w, in] spread through `filter` [kh, kw, out, in] into a
    tensor of `output_shape`. Its graph op is TF's own, Conv2DBackpropInput."""
    value = input if value is None else value
    filter = filters if filter is None else filter
    with name_scope(name, "conv2d_transpose", [value, filter, output_shape]) as scope:
        value = convert_to_tensor(value, name="value")
        filter = convert_to_tensor(filter, name="filter")
        channels = value.shape.as_list()[3] if value.shape.ndims == 4 else None
        filter_in = filter.shape.as_list()[3] if filter.shape.ndims == 4 else None
        if channels is not None and filter_in is not None and channels != filter_in:
            raise ValueError(f"Dimensions must be equal, but are {channels} and {filter_in}: input channels does not "
                             f"match filter's input channels ('{scope}': value {value.shape}, filter {filter.shape})")
        return conv2d_backprop_input(output_shape, filter, value, strides, padding, data_format=data_format,
                                     dilations=dilations, name=scope)


def conv2d_backprop_filter(input, filter_sizes, out_backprop, strides, padding, use_cudnn_on_gpu=True,
                           data_format="NHWC", dilations=None, name=None):
    """`tf.nn.conv2d_backprop_filter`: the gradient of conv2d with respect to its filter."""
    input = convert_to_tensor(input)
    sizes = convert_to_tensor(filter_sizes, dtype=None if hasattr(filter_sizes, "dtype") else dtypes.int32,
                              graph=input.graph)
    return apply_op("conv2d_backprop_filter", [input, out_backprop, sizes],
                    _conv_op_attrs(strides, padding, data_format, dilations), name=name)


def max_pool(value, ksize, strides, padding, data_format="NHWC", name=None, input=None):
    """`tf.nn.max_pool`: the maximum of each window (padding never wins)."""
    return apply_op("max_pool", [input if value is None else value],
                    _pool_op_attrs(ksize, strides, padding, data_format), name=name)


def avg_pool(value, ksize, strides, padding, data_format="NHWC", name=None, input=None):
    """`tf.nn.avg_pool`: the mean of each window's elements inside the input (SAME counts no padding)."""
    return apply_op("avg_pool", [input if value is None else value],
                    _pool_op_attrs(ksize, strides, padding, data_format), name=name)


def _pool_op_attrs(ksize, strides, padding, data_format):
    return {"ksize": _four(ksize, "ksize"), "strides": _four(strides, "strides"), "padding": str(padding).upper(),
            "data_format": data_format}
