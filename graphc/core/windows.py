"""Sliding windows over NHWC images: the geometry convolutions and pooling share.

`Window` holds TF's SAME/VALID arithmetic; the shape rules and NumPy
references (ops/conv_ops.py), the memory plan (a convolution's workspace) and
the kernels (backend/kernels/conv.py, pool.py) all take their sizes from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from graphc.core import machine
from graphc.core.registry import ShapeError


@dataclass(frozen=True)
class Window:
    """A sliding window over the H and W axes of an NHWC tensor, TF's padding rules applied.

    SAME: out = ceil(in / stride), pad_total = max((out - 1) * stride + k - in, 0),
    pad_top = pad_total // 2 (the extra row, if any, goes at the bottom). VALID: no
    padding, out = ceil((in - k + 1) / stride). k counts the dilated extent.
    """

    in_h: int
    in_w: int
    k_h: int
    k_w: int
    stride_h: int
    stride_w: int
    dilation_h: int
    dilation_w: int
    out_h: int
    out_w: int
    pad_top: int
    pad_left: int

    @staticmethod
    def of(in_h, in_w, k_h, k_w, strides, padding, dilations=(1, 1, 1, 1)) -> "Window":
        sizes = []
        for size, k, stride, dilation in ((in_h, k_h, strides[1], dilations[1]), (in_w, k_w, strides[2], dilations[2])):
            extent = (k - 1) * dilation + 1
            if padding == "SAME":
                out = -(-size // stride)
                before = max((out - 1) * stride + extent - size, 0) // 2
            else:
                if size < extent:
                    raise ShapeError(f"Negative dimension size caused by subtracting {extent} from {size}")
                out, before = (size - extent + stride) // stride, 0
            sizes.append((out, before))
        (out_h, pad_top), (out_w, pad_left) = sizes
        return Window(in_h, in_w, k_h, k_w, strides[1], strides[2], dilations[1], dilations[2],
                      out_h, out_w, pad_top, pad_left)

    @property
    def pointwise(self) -> bool:
        """Each output element reads exactly its own input pixel (a 1x1, stride-1 window)."""
        return (self.k_h, self.k_w, self.stride_h, self.stride_w) == (1, 1, 1, 1)

    def taps(self):
        """(kh, kw, rows, cols): for each tap, the input rows (cols) it reads for output rows
        (cols) 0..out-1, as indices into the input padded by pad_top (pad_left) in front."""
        for kh in range(self.k_h):
            for kw in range(self.k_w):
                rows = kh * self.dilation_h + self.stride_h * np.arange(self.out_h)
                cols = kw * self.dilation_w + self.stride_w * np.arange(self.out_w)
                yield kh, kw, rows, cols

    @property
    def padded_h(self) -> int:
        """Rows of the input padded so that every tap's rows (see taps) are inside."""
        return max(self.pad_top + self.in_h,
                   (self.k_h - 1) * self.dilation_h + self.stride_h * max(self.out_h - 1, 0) + 1)

    @property
    def padded_w(self) -> int:
        """Columns of the input padded so that every tap's columns (see taps) are inside."""
        return max(self.pad_left + self.in_w,
                   (self.k_w - 1) * self.dilation_w + self.stride_w * max(self.out_w - 1, 0) + 1)

    def inside_columns(self, kw: int) -> range:
        """The output columns whose tap kw reads a column of the input, not of the padding."""
        first = max(0, -((kw * self.dilation_w - self.pad_left) // self.stride_w))
        end = min(self.out_w, (self.in_w - 1 + self.pad_left - kw * self.dilation_w) // self.stride_w + 1)
        return range(first, max(first, end))

    def padded(self, x, fill):
        """x [N, H, W, C] padded so every tap's rows and cols (see taps) are inside."""
        out = np.full((x.shape[0], self.padded_h, self.padded_w, x.shape[3]), fill, dtype=x.dtype)
        out[:, self.pad_top:self.pad_top + self.in_h, self.pad_left:self.pad_left + self.in_w, :] = x
        return out

    def cropped(self, padded):
        return padded[:, self.pad_top:self.pad_top + self.in_h, self.pad_left:self.pad_left + self.in_w, :]

    def valid(self, rows, cols):
        """Which (row, col) of the padded input lie inside the original: [out_h, out_w] booleans."""
        r = (rows >= self.pad_top) & (rows < self.pad_top + self.in_h)
        c = (cols >= self.pad_left) & (cols < self.pad_left + self.in_w)
        return r[:, None] & c[None, :]


def conv_window(x_shape, w_shape, attrs) -> Window:
    """The Window of a convolution of an input of `x_shape` with a filter of `w_shape`."""
    return Window.of(x_shape[1], x_shape[2], w_shape[0], w_shape[1], attrs["strides"], attrs["padding"],
                     attrs.get("dilations") or (1, 1, 1, 1))


# How convolution kernels (backend/kernels/conv.py) share out their work, and so how much
# workspace the memory plan gives them. A convolution multiplies im2col chunks of about
# half the L2 (so a chunk is still cached when the GEMM packs it), an input gradient the
# columns of as many whole images as fit in such a chunk, each in one of at most
# MAX_CONV_TASKS tasks at once. A filter gradient sums over all rows: FILTER_PARTITIONS
# fixed runs of chunks (fixed, so that the order of the sums does not depend on the thread
# count) each sum into a partial filter, then those are added.
MAX_CONV_TASKS = 16
FILTER_PARTITIONS = 8
# A register-tiled filter gradient (Convolution.tiled) sums whole images, a partition per task, in
# at most this many partitions (Convolution.tasks: as many as split the batch evenly).
TILED_FILTER_PARTITIONS = 20
# A forward or filter-gradient convolution whose im2col rows have at most this many entries
# (K = KH*KW*C: a first layer's 3x3x1 or 5x5x1), into at most DIRECT_MAX_OUT_CHANNELS channels,
# is computed directly (backend/kernels/conv_direct.py): at such a K the im2col GEMM is bound by
# memory. Its forward works on chunks of rows whose output fits in half the L1 (the epilogue
# then finds them there) and needs no workspace; its filter gradient needs the partials alone.
DIRECT_MAX_DEPTH = 32
DIRECT_MAX_OUT_CHANNELS = 256
# Register tiles (Convolution.tiled) run their vectors along the output channels (forward) or the
# input channels (gradients): with fewer than this many, most lanes of an AVX-512 vector would be
# empty (a first layer's input gradient, C = 1, took 2.8 times as long as through im2col).
TILED_MIN_CHANNELS = 16


def im2col_chunk_bytes() -> int:
    """The size of one task's im2col chunk: half this machine's L2."""
    return machine.data_cache_bytes()[2] // 2


def tiled_image_bytes() -> int:
    """The largest padded image register tiles read in place (Convolution.tiled): a quarter of the L2."""
    return machine.data_cache_bytes()[2] // 4


@dataclass(frozen=True)
class Convolution:
    """The sizes a convolution instruction works with: image x [N, H, W, C], filter
    w [KH, KW, C, O], their Window, and which product the instruction computes."""

    image: tuple
    filter: tuple
    window: Window
    product: str          # "forward" (y = x * w), "input_gradient" (dx) or "filter_gradient" (dw)
    element_bytes: int

    @staticmethod
    def of(product: str, x_shape, w_shape, attrs, element_bytes: int) -> "Convolution":
        return Convolution(tuple(x_shape), tuple(w_shape), conv_window(x_shape, w_shape, attrs), product,
                           element_bytes)

    # The three instructions (y = conv2d(x, w), dx = conv2d_backprop_input(w, dy),
    # dw = conv2d_backprop_filter(x, dy)), each with the operands the IR gives it.

    @staticmethod
    def forward(inst) -> "Convolution":
        x, w = inst.values[0].type.shape, inst.values[1].type.shape
        return Convolution.of("forward", x, w, inst.attrs, inst.result.type.dtype.size)

    @staticmethod
    def input_gradient(inst) -> "Convolution":
        x, w = inst.result.type.shape, inst.values[0].type.shape
        return Convolution.of("input_gradient", x, w, inst.attrs, inst.result.type.dtype.size)

    @staticmethod
    def filter_gradient(inst) -> "Convolution":
        x, w = inst.values[0].type.shape, inst.result.type.shape
        return Convolution.of("filter_gradient", x, w, inst.attrs, inst.result.type.dtype.size)

    @property
    def rows(self) -> int:
        """M, the im2col matrix's rows: one per output pixel."""
        return self.image[0] * self.window.out_h * self.window.out_w

    @property
    def depth(self) -> int:
        """K, its columns: one per (kh, kw, input channel)."""
        return self.filter[0] * self.filter[1] * self.image[3]

    @property
    def out_channels(self) -> int:
        return self.filter[3]

    @property
    def direct(self) -> bool:
        """Whether the kernel computes this convolution directly, without im2col or GEMM."""
        return (self.product != "input_gradient" and not self.window.pointwise and self.depth <= DIRECT_MAX_DEPTH
                and self.out_channels <= DIRECT_MAX_OUT_CHANNELS)

    @property
    def tiled(self) -> bool:
        """Whether the kernel reads the image in place with register tiles (kernels/conv_tiled.py)
        instead of through im2col chunks: a convolution or gradient, not direct nor pointwise, with
        at least TILED_MIN_CHANNELS channels along its vectors (O forward, C for the gradients), whose
        padded image fits in a quarter of the L2 (each tile reads it again)."""
        lanes = self.out_channels if self.product == "forward" else self.image[3]
        return (not self.window.pointwise and not self.direct and lanes >= TILED_MIN_CHANNELS
                and self.padded_image_elements * self.element_bytes <= tiled_image_bytes())

    @property
    def block_sparse(self) -> bool:
        """Whether a register-tiled filter or input gradient may take, image by image, the path for a dy
        with at most one nonzero in each 2x2 block of pixels of a channel (kernels/conv_sparse.py: the
        gradient through a 2x2 max-pool): dilation 1 (a window row is then contiguous in the image), an even
        number of output rows and columns, any stride."""
        win = self.window
        return (self.product != "forward" and self.tiled and self.element_bytes >= 4
                and (win.dilation_h, win.dilation_w) == (1, 1)
                and win.out_h % 2 == 0 and win.out_w % 2 == 0 and win.out_h > 0)

    @property
    def block_sparse_elements(self) -> int:
        """Elements of a partition's scratch for the block-sparse path (0 without it): a zero-bordered
        copy of the image (x, or dx summed), then lists of the 2x2 blocks' gradients and offsets and
        their lengths. The filter gradient's (a partition's, in the workspace) list per output channel
        its blocks: 2 x blocks x channels places and a count per channel; the input gradient's (a
        thread's scratch) per block and pixel its channels: 2 x 4 x blocks x channels places and a count
        per block and pixel (kernels/conv_sparse.py)."""
        if not self.block_sparse:
            return 0
        blocks = (self.window.out_h // 2) * (self.window.out_w // 2)
        if self.product == "input_gradient":
            return self.padded_image_elements + 4 * blocks * (2 * self.out_channels + 1)
        return self.padded_image_elements + (2 * blocks + 1) * self.out_channels

    @property
    def padded_image_elements(self) -> int:
        """Elements of one image padded so that every tap is inside it (Window.padded)."""
        return self.window.padded_h * self.window.padded_w * self.image[3]

    @property
    def chunk_rows(self) -> int:
        """How many im2col rows (output pixels) one task multiplies at a time."""
        if self.product == "input_gradient":  # whole images (an image's dx gathers only from its own rows)
            image_rows = self.window.out_h * self.window.out_w
            return image_rows * max(1, min(self.image[0], im2col_chunk_bytes() // max(
                1, image_rows * self.depth * self.element_bytes)))
        if self.direct:
            row_bytes = max(1, self.out_channels) * self.element_bytes
            return max(1, min(self.rows, machine.data_cache_bytes()[1] // 2 // row_bytes))
        return max(1, min(self.rows, im2col_chunk_bytes() // (max(1, self.depth) * self.element_bytes)))

    @property
    def tasks(self) -> int:
        """How many tasks (each with its own chunk of the workspace) the kernel runs. Register tiles
        (whole images) run the filter gradient's partitions, and the other products an image a task."""
        if self.tiled:
            return _even_partitions(self.image[0]) if self.product == "filter_gradient" else max(1, self.image[0])
        chunks = max(1, -(-self.rows // self.chunk_rows))
        return min(FILTER_PARTITIONS if self.product == "filter_gradient" else MAX_CONV_TASKS, chunks)

    @property
    def workspace_bytes(self) -> int:
        """An im2col chunk per task (one row per output pixel, one column per (kh, kw, input
        channel)), and for a filter gradient a product, a segment's sum and a partial sum per
        task; none for a pointwise window (the input is the im2col matrix). A direct convolution
        has no im2col chunks: its forward needs nothing, its filter gradient the partial sums, each
        with a row more for dy's column sums when it computes the bias gradient too (passes/fuse.py);
        a register-tiled one the same (a partial dw^T and a row of column sums per partition)."""
        if self.window.pointwise or (self.direct and self.product == "forward"):
            return 0
        if self.direct:
            return max(1, (self.tasks - 1) * (self.depth + 1) * self.out_channels) * self.element_bytes
        if self.tiled:  # the image is read in place: a filter gradient's partials, an input gradient's w'
            if self.product == "filter_gradient":
                partition = (self.depth + 1) * self.out_channels + self.block_sparse_elements
                return self.tasks * partition * self.element_bytes
            if self.product == "input_gradient":  # w' [KH, KW, O, C]; for the block-sparse path w'' [O, KH, KW, C]
                return (2 if self.block_sparse else 1) * self.depth * self.out_channels * self.element_bytes
            return 0
        elements = self.tasks * self.chunk_rows * self.depth
        if self.product == "filter_gradient":
            elements += 3 * self.tasks * self.depth * self.out_channels
        return max(1, elements) * self.element_bytes


    @property
    def image_blocks_bytes(self) -> Optional[int]:
        """For a forward convolution whose result a max-pool alone reads (passes/fuse.py's conv_max_pool
        kernels): the bytes of one image of the result per task (MAX_CONV_TASKS at most, each computing
        whole images), where each image is computed, gets its epilogue and is pooled while it is in L2
        (conv1 of Deep MNIST: 100 KB). An image is the block because it holds every pooling window whole
        whatever the window, stride and padding (no window read twice, none cut), and because the direct
        and tiled paths work on whole rows of pixels and whole images already. None for the im2col and
        pointwise paths, whose chunks of rows need not end at an image's end, and for an empty batch."""
        if self.product != "forward" or self.rows == 0 or not (self.direct or self.tiled):
            return None
        image = self.window.out_h * self.window.out_w * self.out_channels * self.element_bytes
        return min(self.image[0], MAX_CONV_TASKS) * image


def _even_partitions(images: int) -> int:
    """The partitions of a register-tiled filter gradient's images: the most, up to TILED_FILTER_PARTITIONS
    and from FILTER_PARTITIONS up, that split them into equal runs (batch 100: 20 of 5 images; 50: 10 of
    5), else FILTER_PARTITIONS. Threads taking equal partitions one at a time finish together, where 8
    partitions of 12 or 13 images left one of two threads 52 images of 100 and the other 48. The count
    depends on the batch alone, so the order of the sums does not depend on the threads."""
    for partitions in range(min(TILED_FILTER_PARTITIONS, images), FILTER_PARTITIONS - 1, -1):
        if images % partitions == 0:
            return partitions
    return max(1, min(FILTER_PARTITIONS, images))


def pool_window(x_shape, attrs) -> Window:
    """The Window of a pooling op over an input of `x_shape`."""
    return Window.of(x_shape[1], x_shape[2], attrs["ksize"][1], attrs["ksize"][2], attrs["strides"], attrs["padding"])


