/* The FMA peak of this CPU: GFLOP/s of independent float32 vector FMAs, on 1..T threads.

   Each thread runs CHAINS independent accumulator chains (enough to cover the FMA
   latency on every FMA unit), so the loop is bound by FMA throughput alone.
   Usage: fma_peak [threads]   prints "<threads> <gflops>" per line for 1..threads. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#if defined(__AVX512F__)
#define LANES 16
#else
#define LANES 8
#endif
#define CHAINS 12  /* the accumulators a0..a11 below */
#define ITERATIONS 20000000L

typedef float vec __attribute__((vector_size(LANES * sizeof(float))));

static volatile float sink;

static void *chains(void *unused) {
    (void)unused;
    vec x, y;
    for (int lane = 0; lane < LANES; lane++) { x[lane] = 0.999999f; y[lane] = 1e-7f; }
    /* Named accumulators rather than an array, so that they stay in registers. */
    vec a0 = x, a1 = x + 1, a2 = x + 2, a3 = x + 3, a4 = x + 4, a5 = x + 5;
    vec a6 = x + 6, a7 = x + 7, a8 = x + 8, a9 = x + 9, a10 = x + 10, a11 = x + 11;
    for (long i = 0; i < ITERATIONS; i++) {
        a0 = a0 * x + y; a1 = a1 * x + y; a2 = a2 * x + y; a3 = a3 * x + y;
        a4 = a4 * x + y; a5 = a5 * x + y; a6 = a6 * x + y; a7 = a7 * x + y;
        a8 = a8 * x + y; a9 = a9 * x + y; a10 = a10 * x + y; a11 = a11 * x + y;
    }
    vec total = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;
    sink = total[0];
    return NULL;
}

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    int max_threads = argc > 1 ? atoi(argv[1]) : 1;
    if (max_threads < 1 || max_threads > 256) { fprintf(stderr, "threads must be in [1, 256]\n"); return 2; }
    pthread_t workers[256];
    for (int threads = 1; threads <= max_threads; threads++) {
        double best = 0;
        for (int repeat = 0; repeat < 3; repeat++) {
            double start = seconds();
            for (int t = 0; t < threads; t++) pthread_create(&workers[t], NULL, chains, NULL);
            for (int t = 0; t < threads; t++) pthread_join(workers[t], NULL);
            double flops = 2.0 * LANES * CHAINS * ITERATIONS * threads;
            double rate = flops / (seconds() - start) / 1e9;
            if (rate > best) best = rate;
        }
        printf("%d %.1f\n", threads, best);
    }
    return 0;
}
