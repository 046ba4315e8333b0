/* Philox4x32-10 random numbers, element by element, bit-compatible with
 * graphc/ops/philox.py (the reference). Each element depends only on
 * (key, element index, run, attempt), never on the order of computation. */
#include <math.h>

#include "graphc_runtime.h"

typedef struct { uint32_t w[4]; } block4;

/* One Philox round with the round's key on the counter (x0, x1, x2, x3). */
static inline void philox_round(uint32_t *x0, uint32_t *x1, uint32_t *x2, uint32_t *x3, uint32_t key0,
                                uint32_t key1) {
    uint64_t p0 = (uint64_t)0xD2511F53u * *x0;
    uint64_t p1 = (uint64_t)0xCD9E8D57u * *x2;
    *x0 = (uint32_t)(p1 >> 32) ^ *x1 ^ key0;
    *x2 = (uint32_t)(p0 >> 32) ^ *x3 ^ key1;
    *x1 = (uint32_t)p1;
    *x3 = (uint32_t)p0;
}

static block4 philox(uint64_t block, uint64_t run, uint32_t attempt, uint32_t key0, uint32_t key1) {
    block4 out = {{(uint32_t)block, (uint32_t)(block >> 32), (uint32_t)run, attempt}};
    for (int round = 0; round < 10; ++round) {
        philox_round(&out.w[0], &out.w[1], &out.w[2], &out.w[3], key0, key1);
        key0 += 0x9E3779B9u;
        key1 += 0xBB67AE85u;
    }
    return out;
}

/* Philox blocks block, block + 1, ..., block + PHILOX_BATCH - 1 (attempt 0), word w of block + j in
 * words[w][j]: PHILOX_BATCH independent chains of rounds, which the compiler runs side by side in vector
 * lanes (pmuludq, SSE2 at -O2), where one block's ten rounds are one dependent chain of multiplies.
 * 10 M float32 uniforms: 4.4 -> 1.8 ns each (16 blocks; 8: 2.3, 32: 2.0; -mavx2 worse); the same bits. */
#define PHILOX_BATCH 16

static void philox_batch(uint64_t block, uint64_t run, uint32_t key0, uint32_t key1,
                         uint32_t words[4][PHILOX_BATCH]) {
    uint32_t *c0 = words[0], *c1 = words[1], *c2 = words[2], *c3 = words[3];
    for (int j = 0; j < PHILOX_BATCH; ++j) {
        c0[j] = (uint32_t)(block + j);
        c1[j] = (uint32_t)((block + j) >> 32);
        c2[j] = (uint32_t)run;
        c3[j] = 0;
    }
    for (int round = 0; round < 10; ++round) {
        for (int j = 0; j < PHILOX_BATCH; ++j) philox_round(&c0[j], &c1[j], &c2[j], &c3[j], key0, key1);
        key0 += 0x9E3779B9u;
        key1 += 0xBB67AE85u;
    }
}

static float unit_f32(uint32_t word) {
    union { uint32_t u; float f; } bits = {(word & 0x7FFFFFu) | 0x3F800000u};
    return bits.f - 1.0f;
}

static double unit_f64(uint32_t high, uint32_t low) {
    union { uint64_t u; double d; } bits = {(((uint64_t)(high & 0xFFFFFu)) << 32) | low | 0x3FF0000000000000ull};
    return bits.d - 1.0;
}

/* The two Box-Muller normals of (u, v), in double precision: pair[0] = sin, pair[1] = cos. */
static void box_muller(double u, double v, double pair[2]) {
    const double epsilon = 1.0e-7, two_pi = 6.283185307179586;
    if (u < epsilon) u = epsilon;
    double radius = sqrt(-2.0 * log(u));
    double angle = two_pi * v;
    pair[0] = sin(angle) * radius;
    pair[1] = cos(angle) * radius;
}

static double normal_f32_at(uint64_t i, uint64_t run, uint32_t attempt, uint32_t k0, uint32_t k1) {
    block4 b = philox(i >> 2, run, attempt, k0, k1);
    unsigned first = (i & 3) < 2 ? 0 : 2;
    double pair[2];
    box_muller((double)unit_f32(b.w[first]), (double)unit_f32(b.w[first + 1]), pair);
    return pair[i & 1];
}

static double normal_f64_at(uint64_t i, uint64_t run, uint32_t attempt, uint32_t k0, uint32_t k1) {
    block4 b = philox(i >> 1, run, attempt, k0, k1);
    double pair[2];
    box_muller(unit_f64(b.w[0], b.w[1]), unit_f64(b.w[2], b.w[3]), pair);
    return pair[i & 1];
}

/* The generators below compute each Philox block once for all the elements it serves (four
 * float32 uniforms, two float64 ones, two Box-Muller pairs): one block per element computed
 * it up to four times (the dropout of Deep MNIST's 10,000 test images, 10 M uniforms, took
 * 0.2-0.4 s). Element i still depends only on (key, i, run): the same values. Each writes the
 * elements [first, end) of the op's result `out` (`first` a multiple of the elements a block
 * serves), so that tasks of the thread pool can fill parts of one result. */
void graphc_random_uniform_f32(float *out, int64_t first, int64_t end, uint32_t k0, uint32_t k1, uint64_t run) {
    int64_t start = first;
    for (; start + 4 * PHILOX_BATCH <= end; start += 4 * PHILOX_BATCH) {
        uint32_t words[4][PHILOX_BATCH];
        philox_batch((uint64_t)start >> 2, run, k0, k1, words);
        for (int j = 0; j < PHILOX_BATCH; ++j)
            for (int lane = 0; lane < 4; ++lane) out[start + 4 * j + lane] = unit_f32(words[lane][j]);
    }
    for (; start < end; start += 4) {
        block4 b = philox((uint64_t)start >> 2, run, 0, k0, k1);
        for (int64_t lane = 0; lane < 4 && start + lane < end; ++lane) out[start + lane] = unit_f32(b.w[lane]);
    }
}

void graphc_random_uniform_f64(double *out, int64_t first, int64_t end, uint32_t k0, uint32_t k1, uint64_t run) {
    int64_t start = first;
    for (; start + 2 * PHILOX_BATCH <= end; start += 2 * PHILOX_BATCH) {
        uint32_t words[4][PHILOX_BATCH];
        philox_batch((uint64_t)start >> 1, run, k0, k1, words);
        for (int j = 0; j < PHILOX_BATCH; ++j) {
            out[start + 2 * j] = unit_f64(words[0][j], words[1][j]);
            out[start + 2 * j + 1] = unit_f64(words[2][j], words[3][j]);
        }
    }
    for (; start < end; start += 2) {
        block4 b = philox((uint64_t)start >> 1, run, 0, k0, k1);
        out[start] = unit_f64(b.w[0], b.w[1]);
        if (start + 1 < end) out[start + 1] = unit_f64(b.w[2], b.w[3]);
    }
}

void graphc_random_normal_f32(float *out, int64_t first, int64_t end, uint32_t k0, uint32_t k1, uint64_t run) {
    for (int64_t start = first; start < end; start += 4) {
        block4 b = philox((uint64_t)start >> 2, run, 0, k0, k1);
        for (int half = 0; half < 2 && start + 2 * half < end; ++half) {
            double pair[2];
            box_muller((double)unit_f32(b.w[2 * half]), (double)unit_f32(b.w[2 * half + 1]), pair);
            for (int lane = 0; lane < 2 && start + 2 * half + lane < end; ++lane)
                out[start + 2 * half + lane] = (float)pair[lane];
        }
    }
}

void graphc_random_normal_f64(double *out, int64_t first, int64_t end, uint32_t k0, uint32_t k1, uint64_t run) {
    for (int64_t start = first; start < end; start += 2) {
        block4 b = philox((uint64_t)start >> 1, run, 0, k0, k1);
        double pair[2];
        box_muller(unit_f64(b.w[0], b.w[1]), unit_f64(b.w[2], b.w[3]), pair);
        out[start] = pair[0];
        if (start + 1 < end) out[start + 1] = pair[1];
    }
}

void graphc_truncated_normal_f32(float *out, int64_t count, uint32_t k0, uint32_t k1, uint64_t run) {
    for (int64_t i = 0; i < count; ++i) {
        float x;
        uint32_t attempt = 0;
        do x = (float)normal_f32_at((uint64_t)i, run, attempt++, k0, k1); while (!(fabsf(x) < 2.0f));
        out[i] = x;
    }
}

void graphc_truncated_normal_f64(double *out, int64_t count, uint32_t k0, uint32_t k1, uint64_t run) {
    for (int64_t i = 0; i < count; ++i) {
        double x;
        uint32_t attempt = 0;
        do x = normal_f64_at((uint64_t)i, run, attempt++, k0, k1); while (!(fabs(x) < 2.0));
        out[i] = x;
    }
}
