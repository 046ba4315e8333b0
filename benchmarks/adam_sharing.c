/* Adam's update of Deep MNIST's fc1 weights (3136 x 1024 float32: w, m, v read and written, the
   gradient read) on 1 and 2 threads, each thread updating half of the rows, after one of three
   reads of w by the same threads (docs/performance-notes.md, the `fc1w` session):

     own      nothing: each core updates lines it wrote itself in the previous round;
     columns  each thread first reads its half of every row's columns, as fc1's forward
              (50x1024x3136, split by columns of w) does: half of each row's lines are then
              shared with the other core, which the update must invalidate before it writes;
     rows     each thread first reads the rows the other thread then updates.

   Build and run: cc -O3 -march=native -fno-math-errno -fopenmp adam_sharing.c -o adam_sharing -lm
   && OMP_WAIT_POLICY=active ./adam_sharing   prints best and median ms of ROUNDS rounds. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROWS 3136L
#define COLS 1024L
#define ROUNDS 40

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The reads before an update: thread `id` of `n` reads what `mode` says; returns a sum (kept). */
static float read_before(const float *w, const char *mode, int id, int n) {
    float sum = 0;
    if (!strcmp(mode, "columns")) {
        for (long r = 0; r < ROWS; r++)
            for (long j = COLS * id / n; j < COLS * (id + 1) / n; j++) sum += w[r * COLS + j];
    } else if (!strcmp(mode, "rows")) {
        int other = (id + 1) % n;
        for (long i = ROWS * other / n * COLS; i < ROWS * (other + 1) / n * COLS; i++) sum += w[i];
    }
    return sum;
}

static void measure(int threads, const char *mode, float *w, float *m, float *v, const float *g) {
    double times[ROUNDS];
    volatile float kept = 0;
    for (int round = 0; round < ROUNDS; round++) {
        float sum = 0;
#pragma omp parallel num_threads(threads) reduction(+ : sum)
        sum += read_before(w, mode, omp_get_thread_num(), omp_get_num_threads());
        kept += sum;
        double start = seconds();
#pragma omp parallel num_threads(threads)
        {
            int id = omp_get_thread_num(), n = omp_get_num_threads();
            for (long i = ROWS * id / n * COLS; i < ROWS * (id + 1) / n * COLS; i++) {
                float mi = m[i] + (g[i] - m[i]) * 0.1f, vi = v[i] + (g[i] * g[i] - v[i]) * 0.001f;
                m[i] = mi;
                v[i] = vi;
                w[i] -= 1e-4f * mi / (sqrtf(vi) + 1e-8f);
            }
        }
        times[round] = seconds() - start;
    }
    qsort(times, ROUNDS, sizeof *times, by_value);
    printf("%d thread%s, %-7s best %.2f ms, median %.2f ms\n", threads, threads > 1 ? "s" : " ", mode,
           times[0] * 1e3, times[ROUNDS / 2] * 1e3);
}

int main(void) {
    float *w = aligned_alloc(64, ROWS * COLS * 4), *m = aligned_alloc(64, ROWS * COLS * 4);
    float *v = aligned_alloc(64, ROWS * COLS * 4), *g = aligned_alloc(64, ROWS * COLS * 4);
    for (long i = 0; i < ROWS * COLS; i++) w[i] = 0.01f * (i % 7), m[i] = v[i] = 0, g[i] = 1e-3f * (i % 5);
    const char *modes[] = {"own", "columns", "rows"};
    for (int threads = 1; threads <= 2; threads++)
        for (int k = 0; k < 3; k++) measure(threads, modes[k], w, m, v, g);
    return 0;
}
