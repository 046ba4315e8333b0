"""Counter-based random numbers (Philox4x32-10), the NumPy twin of runtime_c/random.c.

Every random element is a pure function of (key, block, run, attempt), so
results do not depend on thread count or on which elements are computed first.

- key: (seed & 0xffffffff, seed2 & 0xffffffff), the op's seeds.
- counter: (block low, block high, run, attempt): `run` counts the op's
  executions in a session; `attempt` is 0 except for truncated-normal redraws.
- Layout: a block gives four 32-bit words. float32 uniforms take one word each
  (element i uses block i/4, word i%4); float64 uniforms take two (block i/2).
  Normals use Box-Muller on word pairs, computed in double precision so the C
  and NumPy versions agree: float32 normals come four per block, float64 two.
"""

from __future__ import annotations

import numpy as np

_M0, _M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
_W0, _W1 = np.uint64(0x9E3779B9), np.uint64(0xBB67AE85)
_MASK = np.uint64(0xFFFFFFFF)
_SHIFT = np.uint64(32)
TRUNCATE_AT = 2.0
# Box-Muller's log(u1) needs u1 > 0; TF clamps uniforms below this to it.
_EPSILON = 1.0e-7


def philox4x32(blocks: np.ndarray, run: int, attempt, key: tuple[int, int]):
    """Four uint32 words (as uint64 arrays) for each block index in `blocks`."""
    blocks = blocks.astype(np.uint64)
    c0 = blocks & _MASK
    c1 = blocks >> _SHIFT
    c2 = np.full_like(c0, np.uint64(run & 0xFFFFFFFF))
    c3 = np.broadcast_to(np.asarray(attempt, dtype=np.uint64), c0.shape).copy()
    k0, k1 = np.uint64(key[0] & 0xFFFFFFFF), np.uint64(key[1] & 0xFFFFFFFF)
    for _ in range(10):
        p0 = _M0 * c0
        p1 = _M1 * c2
        c0, c1, c2, c3 = ((p1 >> _SHIFT) ^ c1 ^ k0, p1 & _MASK, (p0 >> _SHIFT) ^ c3 ^ k1, p0 & _MASK)
        k0 = (k0 + _W0) & _MASK
        k1 = (k1 + _W1) & _MASK
    return c0, c1, c2, c3


def _words_to_unit_f32(word):
    bits = ((word & np.uint64(0x7FFFFF)) | np.uint64(0x3F800000)).astype(np.uint32)
    return bits.view(np.float32) - np.float32(1.0)


def _words_to_unit_f64(high, low):
    bits = ((high & np.uint64(0xFFFFF)) << _SHIFT) | low | np.uint64(0x3FF0000000000000)
    return bits.view(np.float64) - 1.0


def _box_muller(u, v):
    """Two standard normals from two uniforms in [0, 1), in float64."""
    u = np.maximum(u.astype(np.float64), _EPSILON)
    radius = np.sqrt(-2.0 * np.log(u))
    angle = 2.0 * np.pi * v.astype(np.float64)
    return np.sin(angle) * radius, np.cos(angle) * radius


def uniform(count: int, dtype, key, run: int) -> np.ndarray:
    """`count` uniforms in [0, 1) of `dtype` (float32 or float64)."""
    index = np.arange(count, dtype=np.uint64)
    if np.dtype(dtype) == np.float32:
        words = philox4x32(index >> np.uint64(2), run, 0, key)
        lane = (index & np.uint64(3)).astype(np.int64)
        return _words_to_unit_f32(np.choose(lane, words))
    words = philox4x32(index >> np.uint64(1), run, 0, key)
    first = (index & np.uint64(1)) == 0
    return _words_to_unit_f64(np.where(first, words[0], words[2]), np.where(first, words[1], words[3]))


def _normals(index: np.ndarray, dtype, key, run: int, attempt) -> np.ndarray:
    if np.dtype(dtype) == np.float32:
        w = philox4x32(index >> np.uint64(2), run, attempt, key)
        lane = (index & np.uint64(3)).astype(np.int64)
        pair_first = lane < 2
        u = _words_to_unit_f32(np.where(pair_first, w[0], w[2]))
        v = _words_to_unit_f32(np.where(pair_first, w[1], w[3]))
        sin_part, cos_part = _box_muller(u, v)
        return np.where(lane % 2 == 0, sin_part, cos_part)
    w = philox4x32(index >> np.uint64(1), run, attempt, key)
    u = _words_to_unit_f64(w[0], w[1])
    v = _words_to_unit_f64(w[2], w[3])
    sin_part, cos_part = _box_muller(u, v)
    return np.where((index & np.uint64(1)) == 0, sin_part, cos_part)


def normal(count: int, dtype, key, run: int) -> np.ndarray:
    """`count` standard normals of `dtype`."""
    index = np.arange(count, dtype=np.uint64)
    return _normals(index, dtype, key, run, 0).astype(dtype)


def truncated_normal(count: int, dtype, key, run: int) -> np.ndarray:
    """Standard normals redrawn (attempt 1, 2, ...) until |x| < 2, element by element."""
    index = np.arange(count, dtype=np.uint64)
    out = np.empty(count, dtype=np.float64)
    pending = np.ones(count, dtype=bool)
    attempt = 0
    while pending.any():
        draw = _normals(index[pending], dtype, key, run, attempt)
        draw_in_dtype = draw.astype(dtype)
        accepted = np.abs(draw_in_dtype) < TRUNCATE_AT
        where = np.flatnonzero(pending)
        out[where[accepted]] = draw[accepted]
        pending[where[accepted]] = False
        attempt += 1
    return out.astype(dtype)
