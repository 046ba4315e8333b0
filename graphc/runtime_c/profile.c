/* Per-kernel timing for GRAPHC_PROFILE=1: steps compiled with profiling call
 * graphc_profile_record after each kernel; graphc prints the totals at exit. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "graphc_runtime.h"

#define MAX_KERNELS 4096

static struct {
    const char *name; /* a string constant of the step library that recorded it */
    int64_t nanoseconds;
    int64_t calls;
} kernels[MAX_KERNELS];
static int kernel_count;

int64_t graphc_now_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

static int table_lock;

void graphc_profile_record(const char *name, int64_t nanoseconds) {
    int i;
    while (__atomic_exchange_n(&table_lock, 1, __ATOMIC_ACQUIRE)) {
    }
    for (i = 0; i < kernel_count && kernels[i].name != name; ++i) {
    }
    if (i == kernel_count && kernel_count < MAX_KERNELS) kernels[kernel_count++].name = name;
    __atomic_store_n(&table_lock, 0, __ATOMIC_RELEASE);
    if (i == MAX_KERNELS) return;
    __atomic_add_fetch(&kernels[i].nanoseconds, nanoseconds, __ATOMIC_RELAXED);
    __atomic_add_fetch(&kernels[i].calls, 1, __ATOMIC_RELAXED);
}

int64_t graphc_profile_report(char *text, int64_t size) {
    int64_t used = 0;
    for (int i = 0; i < kernel_count && used < size; ++i)
        used += snprintf(text + used, (size_t)(size - used), "%s\t%lld\t%lld\n", kernels[i].name,
                         (long long)kernels[i].nanoseconds, (long long)kernels[i].calls);
    return used;
}
