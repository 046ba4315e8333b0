/* Can Adam's memory pass over Deep MNIST's fc1 weights hide under the FMAs of their gradient's GEMM?
   (docs/performance-notes.md, the third `deep` session.) One thread; w, m, v are 3136 x 1024 float32
   (12.8 MB each, read and written), the gradient a 70-row block of C in L2. The "GEMM" is register-only
   FMAs, as many as dW = xᵀ d (3136 x 1024 x 50: 321 MFLOP), in 32 panel steps per 70-row block (as
   graphc's tiles run: 7 tiles of 10 rows x 32 columns, K = 50). Five timings, best of ROUNDS:

     gemm         the FMAs alone;
     adam         the update alone, row after row;
     sequential   per block, its FMAs then its update (graphc today: the epilogue after the block);
     interleaved  per block, each panel step followed by the update of 1/32 of the previous block's rows;
     prefetched   per block, its FMAs with prefetches of the block's w, m and v lines spread evenly
                  among them (one every few FMA steps), then its update, which then finds them in L2;
     burst        the same prefetches, each panel step's issued at once before its FMAs.

   With -DPANEL_LOADS the FMAs read their operands from L1 as graphc's micro-kernel does (per k, two
   vectors of a B panel and six broadcast elements of an A panel, 6 x 16 accumulators), instead of
   register-only chains: then the spread prefetches lose (docs/performance-notes.md, the `prefetch`
   session).

   Build and run: cc -O3 -fno-math-errno -mavx2 -mfma adam_overlap.c -o adam_overlap -lm && ./adam_overlap */
#define _POSIX_C_SOURCE 199309L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef float v8 __attribute__((vector_size(32)));

enum { ROWS = 3136, COLS = 1024, BLOCK = 70, PANELS = 32, ROUNDS = 15, ACCUMULATORS = 12 };
enum { LINE_FLOATS = 16, STEPS = 7 * 50 * 2 * 20 / ACCUMULATORS };  /* a panel step: 7 tiles x 320 x 50 FMAs */

static float *w, *m, *v, *g;
static volatile float sink;
static float a_panel[50 * 6] __attribute__((aligned(64))), b_panel[50 * 16] __attribute__((aligned(64)));

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* Cache line `line` of the stream w, m, v over rows [row0, ...): lines alternate between the arrays. */
static const float *line_at(int row0, int line) {
    const float *base = line % 3 == 0 ? w : line % 3 == 1 ? m : v;
    return base + (size_t)row0 * COLS + (size_t)(line / 3) * LINE_FLOATS;
}

/* One panel step's FMAs; `lines` prefetches (lines first ... of the stream from row0) spread among them. */
static void panel(float seed, int row0, int first, int lines) {
    v8 acc[ACCUMULATORS];
    for (int i = 0; i < ACCUMULATORS; ++i) acc[i] = (v8){seed, seed, seed, seed, seed, seed, seed, seed};
#ifndef PANEL_LOADS
    v8 a = acc[0] * 0.999f, b = acc[1] * 1.0001f;
#endif
    int every = lines > 0 ? STEPS / lines : STEPS + 1, issued = 0;
    if (every < 1) every = 1;
    for (int step = 0, k = 0; step < STEPS; ++step, k = k == 49 ? 0 : k + 1) {
#ifdef PANEL_LOADS
        v8 b0 = *(const v8 *)(b_panel + k * 16), b1 = *(const v8 *)(b_panel + k * 16 + 8);
        for (int i = 0; i < ACCUMULATORS / 2; ++i) {
            float s = a_panel[k * 6 + i];
            v8 broadcast = {s, s, s, s, s, s, s, s};
            acc[2 * i] += broadcast * b0;
            acc[2 * i + 1] += broadcast * b1;
        }
#else
        for (int i = 0; i < ACCUMULATORS; ++i) acc[i] = acc[i] * a + b;
        __asm__ volatile("" : "+x"(a), "+x"(b));  /* no folding of the chains */
#endif
        if (step % every == 0 && issued < lines) __builtin_prefetch(line_at(row0, first + issued++), 1, 3);
    }
    v8 s = acc[0];
    for (int i = 1; i < ACCUMULATORS; ++i) s += acc[i];
    sink = s[0];
}

static void adam(int row0, int rows) {
    const float b1 = 0.9f, b2 = 0.999f, rate = 1e-4f, epsilon = 1e-8f;
    for (int r = row0; r < row0 + rows; ++r) {
        float *wr = w + (size_t)r * COLS, *mr = m + (size_t)r * COLS, *vr = v + (size_t)r * COLS;
        const float *gr = g + (size_t)(r % BLOCK) * COLS;
        for (int c = 0; c < COLS; ++c) {
            mr[c] = b1 * mr[c] + (1 - b1) * gr[c];
            vr[c] = b2 * vr[c] + (1 - b2) * gr[c] * gr[c];
            wr[c] -= rate * mr[c] / (sqrtf(vr[c]) + epsilon);
        }
    }
}

static int block_rows(int block) { return block * BLOCK + BLOCK > ROWS ? ROWS - block * BLOCK : BLOCK; }

static void run(const char *mode) {
    int blocks = (ROWS + BLOCK - 1) / BLOCK;
    for (int bl = 0; bl <= blocks; ++bl) {
        int here = bl < blocks, row0 = bl * BLOCK, rows = here ? block_rows(bl) : 0;
        int lines = rows * (COLS / LINE_FLOATS) * 3;
        int before = bl > 0 ? block_rows(bl - 1) : 0;
        for (int p = 0; p < PANELS && (here || mode[0] == 'i'); ++p) {
            int first = lines * p / PANELS, count = lines * (p + 1) / PANELS - first;
            if (mode[0] == 'g' || mode[0] == 's' || mode[0] == 'i') {
                if (here) panel(bl + p, row0, 0, 0);
            } else if (mode[0] == 'p') {
                panel(bl + p, row0, first, count);
            } else if (mode[0] == 'b') {
                for (int i = 0; i < count; ++i) __builtin_prefetch(line_at(row0, first + i), 1, 3);
                panel(bl + p, row0, 0, 0);
            }
            if (mode[0] == 'i' && bl > 0) {
                int low = before * p / PANELS, high = before * (p + 1) / PANELS;
                adam((bl - 1) * BLOCK + low, high - low);
            }
        }
        if (here && mode[0] != 'g' && mode[0] != 'i' && mode[0] != 'a') adam(row0, rows);
    }
    if (mode[0] == 'a') adam(0, ROWS);
}

int main(void) {
    size_t n = (size_t)ROWS * COLS;
    w = aligned_alloc(64, n * 4), m = aligned_alloc(64, n * 4), v = aligned_alloc(64, n * 4);
    g = aligned_alloc(64, (size_t)BLOCK * COLS * 4);
    for (size_t i = 0; i < n; ++i) w[i] = 0.01f, m[i] = 0.0f, v[i] = 0.0f;
    for (int i = 0; i < BLOCK * COLS; ++i) g[i] = 0.001f * (float)(i % 7);
    for (int i = 0; i < 50 * 6; ++i) a_panel[i] = 0.001f * (float)(i % 5);
    for (int i = 0; i < 50 * 16; ++i) b_panel[i] = 0.001f * (float)(i % 3);
    const char *modes[] = {"gemm", "adam", "sequential", "interleaved", "prefetched", "burst"};
    double best[6] = {1e9, 1e9, 1e9, 1e9, 1e9, 1e9};
    for (int round = 0; round < ROUNDS; ++round)
        for (int i = 0; i < 6; ++i) {
            double start = seconds();
            run(modes[i]);
            double took = seconds() - start;
            if (took < best[i]) best[i] = took;
        }
    for (int i = 0; i < 6; ++i) printf("%s %.3f ms%s", modes[i], 1e3 * best[i], i < 5 ? "  " : "\n");
    return 0;
}
