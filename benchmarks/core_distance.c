/* How far apart the host runs this machine's first two CPUs: the round trip of a cache line between two
   threads pinned to them, in ns (median of ROUNDS rounds of TRIPS round trips).

   On the 2-vCPU VM of the benchmarks it takes two values, and the 2-thread steps follow it: ~60 ns (the
   vCPUs share a core complex; the MLP step 0.61 ms) or ~300-350 ns (apart; the same step 0.77 ms, 0.98
   before fc1's forward read W1 by rows: every line one thread wrote and the other reads crosses between
   them). The host switches between the two within minutes. Thousands of ns mean something else ran on
   one of the two CPUs meanwhile (a thread waiting for its turn): the figure then says the machine was
   busy, not where its CPUs are.
   Usage: core_distance   prints the ns, or exits with 1 on fewer than two CPUs. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define TRIPS 20000L
#define ROUNDS 5

static _Atomic long line __attribute__((aligned(64)));

static void *answer(void *unused) {
    (void)unused;
    for (long i = 0; i < TRIPS; i++) {
        while (atomic_load_explicit(&line, memory_order_acquire) != 2 * i + 1) {}
        atomic_store_explicit(&line, 2 * i + 2, memory_order_release);
    }
    return NULL;
}

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(void) {
    cpu_set_t allowed;
    int cpus[2], found = 0;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return 1;
    for (int cpu = 0; cpu < CPU_SETSIZE && found < 2; cpu++)
        if (CPU_ISSET(cpu, &allowed)) cpus[found++] = cpu;
    if (found < 2) return 1;
    cpu_set_t first, second;
    CPU_ZERO(&first);
    CPU_SET(cpus[0], &first);
    CPU_ZERO(&second);
    CPU_SET(cpus[1], &second);
    /* The answering thread starts on its own CPU (set before it runs): pinned only once running, it could
       wait forever behind a spinning caller of a real-time priority on the first CPU. */
    pthread_attr_t attributes;
    pthread_attr_init(&attributes);
    pthread_attr_setaffinity_np(&attributes, sizeof second, &second);
    if (pthread_setaffinity_np(pthread_self(), sizeof first, &first) != 0) return 1;
    double rounds[ROUNDS];
    for (int round = 0; round < ROUNDS; round++) {
        pthread_t thread;
        atomic_store(&line, 0);
        if (pthread_create(&thread, &attributes, answer, NULL) != 0) return 1;
        double start = seconds();
        for (long i = 0; i < TRIPS; i++) {
            atomic_store_explicit(&line, 2 * i + 1, memory_order_release);
            while (atomic_load_explicit(&line, memory_order_acquire) != 2 * i + 2) {}
        }
        rounds[round] = (seconds() - start) / TRIPS * 1e9;
        pthread_join(thread, NULL);
    }
    qsort(rounds, ROUNDS, sizeof rounds[0], compare);
    printf("%.0f\n", rounds[ROUNDS / 2]);
    return 0;
}
