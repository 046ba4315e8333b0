/* The floor of a step's histogram summaries with TF1's numbers (docs/performance-notes.md, "What 4
   histogram summaries add to the MLP step"): each tensor's float64 sum and sum of squares added in
   order, one dependency chain of additions a value. The MLP step's four tensors hold 235,200 values
   (W1) and 61,000 (the others); two timings, process CPU, best of 200:

     one after the other  each tensor's chains in its own loop (what four kernels in a row can reach);
     interleaved          W1's chains and the others' in one loop: independent chains, so the small
                          tensors' additions fill the cycles W1's chain waits.

   And a third, the floor of the bucket counts whatever the sums: `counting`, each value's bucket already known
   (computed before the timing), one increment a value into four interleaved count arrays, so that equal
   buckets in a row do not wait on each other's stores. About a cycle a value on this Zen 4: no
   kernel can count 296,200 values faster, whichever order its sums take.

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

__attribute__((noipa)) static void counting(const unsigned short *bucket, long n, int (*counts)[1024]) {
  long i = 0;
  for (; i + 4 <= n; i += 4) {
    counts[0][bucket[i]]++; counts[1][bucket[i + 1]]++; counts[2][bucket[i + 2]]++; counts[3][bucket[i + 3]]++;
  }
  for (; i < n; i++) counts[0][bucket[i]]++;
}

int main(void) {
  long n = 235200, m = 61000;
  float *a = malloc(n * sizeof *a), *b = malloc(m * sizeof *b);
  double out[4] = {0};
  for (long i = 0; i < n; i++) a[i] = rand() / (float)RAND_MAX - 0.5f;
  for (long i = 0; i < m; i++) b[i] = rand() / (float)RAND_MAX;
  /* Buckets as a normal-ish tensor fills TF1's 774 (about 260 of them used). */
  unsigned short *bucket = malloc((n + m) * sizeof *bucket);
  static int counts[4][1024];
  for (long i = 0; i < n + m; i++) bucket[i] = (unsigned short)(257 + (rand() % 130) + (rand() % 130));
  for (int round = 0; round < 5; round++) {
    double apart = 1e9, together = 1e9, count = 1e9;
    for (int k = 0; k < 200; k++) {
      double t0 = now();
      one(a, n, out);
      one(b, m, out);
      double t1 = now();
      interleaved(a, n, b, m, out);
      double t2 = now();
      counting(bucket, n + m, counts);
      double t3 = now();
      if (t1 - t0 < apart) apart = t1 - t0;
      if (t2 - t1 < together) together = t2 - t1;
      if (t3 - t2 < count) count = t3 - t2;
    }
    printf("one after the other %.1f us, interleaved %.1f us, counting %.1f us (%ld values)\n", apart * 1e6,
           together * 1e6, count * 1e6, n + m);
  }
  return out[0] == 12345.0 || counts[0][0] == 12345;  /* keeps the sums and counts live */
}
