/* The floor of a step's histogram summaries with TF1's numbers (docs/performance-notes.md, "What 4
   histogram summaries add to the MLP step"): each tensor's float64 sum and sum of squares added in
   order, one dependency chain of additions a value. The MLP step's four tensors hold 235,200 values
   (W1) and 61,000 (the others); two timings, process CPU, best of 200:

     one after the other  each tensor's chains in its own loop (what four kernels in a row can reach);
     interleaved          W1's chains and the others' in one loop: independent chains, so the small
                          tensors' additions fill the cycles W1's chain waits.

   No -ffast-math: the additions must stay in order. (A floor for the chains, not for the sums: blocks
   of values can be added in vector lanes bit for bit when checks show no addition rounds differently;
   docs/performance-notes.md, "Histogram sums by block-wise speculation": slower in the kernel so far.)
   Build and run: cc -O2 -march=native histogram_chains.c -o histogram_chains && ./histogram_chains */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

__attribute__((noinline)) static void one(const float *a, long n, double *out) {
  double sum = 0, squares = 0;
  for (long i = 0; i < n; i++) { double v = a[i]; sum += v; squares += v * v; }
  out[0] += sum; out[1] += squares;
}

__attribute__((noinline)) static void interleaved(const float *a, long n, const float *b, long m, double *out) {
  double sum = 0, squares = 0, other = 0, other_squares = 0;
  long i = 0;
  for (; i < m; i++) { double v = a[i], w = b[i]; sum += v; squares += v * v; other += w; other_squares += w * w; }
  for (; i < n; i++) { double v = a[i]; sum += v; squares += v * v; }
  out[0] += sum; out[1] += squares; out[2] += other; out[3] += other_squares;
}

int main(void) {
  long n = 235200, m = 61000;
  float *a = malloc(n * sizeof *a), *b = malloc(m * sizeof *b);
  double out[4] = {0};
  for (long i = 0; i < n; i++) a[i] = rand() / (float)RAND_MAX - 0.5f;
  for (long i = 0; i < m; i++) b[i] = rand() / (float)RAND_MAX;
  for (int round = 0; round < 5; round++) {
    double apart = 1e9, together = 1e9;
    for (int k = 0; k < 200; k++) {
      double t0 = now();
      one(a, n, out);
      one(b, m, out);
      double t1 = now();
      interleaved(a, n, b, m, out);
      double t2 = now();
      if (t1 - t0 < apart) apart = t1 - t0;
      if (t2 - t1 < together) together = t2 - t1;
    }
    printf("one after the other %.1f us, interleaved %.1f us (%ld values)\n", apart * 1e6, together * 1e6, n + m);
  }
  return out[0] == 12345.0;  /* keeps the sums live */
}
