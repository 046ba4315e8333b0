"""The GEMM library (backend/kernels/gemm.py) called directly, over the shapes that reach each of
its paths: every row count of the last, partial MR-row panel (the 8-, 4- and 2-row micro-kernels),
blocks of B one panel wide (A read in place) and wider (A packed), edge panels at most one vector
wide, K = 1, M = 1, N = 1, long K (several KC blocks) and all four transposes. Each product is
compared with NumPy's in float64, and computed on one and on two threads with identical bits.
"""

import cffi
import numpy as np
import pytest

from graphc.backend import libraries
from graphc.backend.kernels import gemm
from graphc.compiler import driver
from graphc.core import dtypes
from graphc.runtime import abi, loader

C_TYPES = {np.float32: "float", np.float64: "double"}


@pytest.fixture(scope="module")
def library():
    driver.load_runtime()
    ffi = cffi.FFI()
    ffi.cdef(abi.cdef(abi.gemm_functions()))
    with libraries.gemm_library() as verified:
        loaded = loader.load_library(ffi, verified)
    yield ffi, loaded
    loader.set_num_threads(0)


def product(library, dtype, a, b, m, n, k, transpose_a, transpose_b, threads, on_thread=False):
    """C from the library's entry on `threads` threads, or from its `_on_thread` entry (the caller alone)."""
    ffi, loaded = library
    loader.set_num_threads(threads)
    c = np.full((m, n), np.nan, dtype)
    name = abi.gemm_function(dtypes.as_dtype(dtype), transpose_a, transpose_b, on_thread).name
    status = ffi.new("graphc_status *")
    code = getattr(loaded.lib, name)(m, n, k, ffi.from_buffer(f"{C_TYPES[dtype]}[]", a),
                                     ffi.from_buffer(f"{C_TYPES[dtype]}[]", b),
                                     ffi.from_buffer(f"{C_TYPES[dtype]}[]", c), ffi.NULL, ffi.NULL, status,
                                     *([0] if on_thread else []))
    assert code == 0
    return c


def check(library, dtype, m, n, k, transpose_a, transpose_b):
    rng = np.random.default_rng(m * 1000 + n * 10 + k)
    a = rng.uniform(-1, 1, (k, m) if transpose_a else (m, k)).astype(dtype)
    b = rng.uniform(-1, 1, (n, k) if transpose_b else (k, n)).astype(dtype)
    one = product(library, dtype, a, b, m, n, k, transpose_a, transpose_b, threads=1)
    two = product(library, dtype, a, b, m, n, k, transpose_a, transpose_b, threads=2)
    expected = (a.T if transpose_a else a).astype(np.float64) @ (b.T if transpose_b else b).astype(np.float64)
    tolerance = (1e-5 if dtype == np.float32 else 1e-13) * np.sqrt(k)
    np.testing.assert_allclose(one, expected, rtol=tolerance, atol=tolerance, err_msg=f"{m}x{n}x{k}")
    np.testing.assert_array_equal(one, two, err_msg=f"{m}x{n}x{k}: 1 and 2 threads differ")


MR = gemm.blocking(dtypes.float32).mr


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("transpose_a, transpose_b", [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize("n", [1, 20, 100])
def test_every_height_of_the_last_row_panel(library, dtype, transpose_a, transpose_b, n):
    # M = 2 MR + r for every r: the full panels, then the partial one in pieces (r = 0: none).
    for m in [2 * MR + r for r in range(MR)] + [1, 50, 100]:
        check(library, dtype, m, n, 67, transpose_a, transpose_b)


@pytest.mark.parametrize("transpose_a, transpose_b", [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize("m, n, k", [(1, 300, 100), (100, 300, 1), (50, 1024, 700), (37, 33, 2000), (100, 1, 300),
                                     (3, 2000, 40), (100, 100, 300), (300, 100, 100), (61, 20, 500), (50, 20, 500),
                                     (100, 10, 100), (100, 100, 10), (100, 300, 100)])
def test_small_and_odd_shapes(library, transpose_a, transpose_b, m, n, k):
    # The last seven split their rows between two threads (50 + 50, 150 + 150, 30 + 31, 25 + 25, the MLP's
    # layer-3 products, just above PARALLEL_MIN_FLOPS, 50 + 50 rows, and its dh1, as many NR-column panels as
    # MR-row blocks: by rows).
    check(library, np.float32, m, n, k, transpose_a, transpose_b)


@pytest.mark.parametrize("m, n, k", [(50, 3136, 1024), (1500, 4000, 40), (3, 170, 1000)])
def test_a_transposed_b_packed_panel_by_panel(library, m, n, k):
    # A short, deep A takes all of K as one KC block, and a block of B larger than half of L2 is
    # packed panel by panel: fc1's input gradient into one panel's place; 1500 rows on one thread
    # are two blocks of rows, each panel then kept in its own place; 170 columns end in a partial panel.
    check(library, np.float32, m, n, k, False, True)


@pytest.mark.parametrize("m, n, k, transpose_b", [(50, 1024, 3136, False), (40, 2000, 300, False),
                                                  (50, 3136, 1024, True), (45, 700, 520, True)])
def test_products_that_prefetch_the_next_b(library, m, n, k, transpose_b):
    # The tiles prefetch what is packed next (GemmEmitter._ahead_of_panel): fc1's forward, one block
    # of rows whose K x N columns of B exceed L2, a row of the next KC block per tile (2000 columns:
    # more than a tile's k steps spread); fc1's input gradient, the next panel of a transposed B.
    check(library, np.float32, m, n, k, False, transpose_b)


@pytest.mark.parametrize("m, n, k, transpose_b", [(90, 300, 400, False), (90, 300, 100, True), (20, 300, 3000, False),
                                                  (20, 40, 300, False), (18, 620, 64, True)])
@pytest.mark.parametrize("threads", [2, 3])
def test_column_shares_cut_inside_a_panel(library, m, n, k, transpose_b, threads):
    # Split by columns, a task's share may start or end inside a panel (GemmEmitter._column_share):
    # 300 columns over 90 rows (10 panels, 9 blocks of rows; the fifth panel's rows 0-65 on one thread,
    # 66-89 on the other), a long k summed in segments (each part's piece of T added to C), two tasks within
    # one panel's rows (a full panel and an edge half as wide), and three threads.
    rng = np.random.default_rng(m + n + k)
    a = rng.uniform(-1, 1, (m, k)).astype(np.float32)
    b = rng.uniform(-1, 1, (n, k) if transpose_b else (k, n)).astype(np.float32)
    one = product(library, np.float32, a, b, m, n, k, False, transpose_b, threads=1)
    several = product(library, np.float32, a, b, m, n, k, False, transpose_b, threads=threads)
    expected = a.astype(np.float64) @ (b.T if transpose_b else b).astype(np.float64)
    np.testing.assert_allclose(one, expected, rtol=1e-5 * np.sqrt(k), atol=1e-5 * np.sqrt(k))
    np.testing.assert_array_equal(one, several, err_msg=f"{m}x{n}x{k}: 1 and {threads} threads differ")


@pytest.mark.parametrize("transpose_a, transpose_b", [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize("n, k", [(300, 784), (100, 300), (64, 3136), (300, 100), (250, 67)])
def test_few_rows_read_in_place_sum_as_packed(library, transpose_a, transpose_b, n, k):
    # A task of at most DIRECT_B_ROWS rows reads A (and a non-transposed B) where it lies
    # (GemmEmitter._direct_a, _direct_b); a taller product's one task packs both. The short
    # product's C is the tall one's first rows, bit for bit: the same sums in the same order.
    # 250 columns on one thread: a block of B wider than DIRECT_A_FEW_ROWS_PANELS, A packed. (Both
    # heights take the same KC: a transposed B's is all of K below a quarter of L2 for both or none.)
    # The short product may sum K in two halves (GemmEmitter._depth_halves: a B beyond half of this
    # machine's L2, e.g. 300x784 and 64x3136 with a 1 MB L2), the tall one never: then its C is the
    # packed products of the two halves of K added, bit for bit.
    short, tall = gemm.DIRECT_B_ROWS, gemm.DIRECT_B_ROWS + 20
    assert tall > gemm.DEPTH_HALVES_ROWS
    rng = np.random.default_rng(n + k)
    a_tall = rng.uniform(-1, 1, (k, tall) if transpose_a else (tall, k)).astype(np.float32)
    a_short = np.ascontiguousarray(a_tall[:, :short] if transpose_a else a_tall[:short])
    b = rng.uniform(-1, 1, (n, k) if transpose_b else (k, n)).astype(np.float32)
    c_tall = product(library, np.float32, a_tall, b, tall, n, k, transpose_a, transpose_b, threads=1)
    cut = (k + 1) // 2 // 2 * 2  # where _task cuts K
    halves = [product(library, np.float32, np.ascontiguousarray(a_tall[rows] if transpose_a else a_tall[:, rows]),
                      np.ascontiguousarray(b[:, rows] if transpose_b else b[rows]), tall, n, depth, transpose_a,
                      transpose_b, threads=1)
              for rows, depth in ((slice(0, cut), cut), (slice(cut, k), k - cut))]
    c_halves = (halves[0] + halves[1])[:short]
    for threads in (1, 2):
        c_short = product(library, np.float32, a_short, b, short, n, k, transpose_a, transpose_b, threads)
        assert np.array_equal(c_short, c_tall[:short]) or np.array_equal(c_short, c_halves), \
            f"{short}x{n}x{k} on {threads} threads: neither the packed product nor its two halves added"


@pytest.mark.parametrize("m, n, k", [(50, 1024, 3136), (37, 1000, 2001), (20, 600, 9000), (100, 300, 1200)])
def test_products_summing_k_in_halves(library, m, n, k):
    # B [K, N] larger than L2 under few rows of A: the two halves of K are tasks of their own, the
    # second's sums added to the first's (GemmEmitter._depth_halves, _join_halves): fc1's forward;
    # odd M and K and an edge panel 8 wide; 35 KC blocks a half, each half summed in segments; and on
    # 3 and 4 threads, each half's share of C split by columns. The pool's entry on 1-4 threads and
    # the caller-alone entry (as convolutions call it) give the same bits.
    rng = np.random.default_rng(m + n + k)
    a = rng.uniform(-1, 1, (m, k)).astype(np.float32)
    b = rng.uniform(-1, 1, (k, n)).astype(np.float32)
    one = product(library, np.float32, a, b, m, n, k, False, False, threads=1)
    expected = a.astype(np.float64) @ b.astype(np.float64)
    np.testing.assert_allclose(one, expected, rtol=1e-5 * np.sqrt(k), atol=1e-5 * np.sqrt(k))
    for threads in (2, 3, 4):
        several = product(library, np.float32, a, b, m, n, k, False, False, threads=threads)
        np.testing.assert_array_equal(one, several, err_msg=f"{m}x{n}x{k}: 1 and {threads} threads differ")
    alone = product(library, np.float32, a, b, m, n, k, False, False, threads=2, on_thread=True)
    np.testing.assert_array_equal(one, alone, err_msg=f"{m}x{n}x{k}: the caller-alone entry differs")
