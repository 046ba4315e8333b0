/* Per-kernel timing: steps compiled with profiling (GRAPHC_PROFILE=1, or for a traced
 * run) call graphc_profile_record after each kernel. The totals by kernel are printed at
 * exit under GRAPHC_PROFILE=1; between graphc_trace_start and graphc_trace_stop each
 * record is also kept as an event (a run's RunMetadata step stats). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "graphc_runtime.h"

#define MAX_KERNELS 4096
#define MAX_EVENTS 65536

static struct {
    const char *key;  /* a string constant of the step library that recorded it */
    char *name;       /* a copy: the table outlives the library (a closed Session unloads it) */
    int64_t nanoseconds;
    int64_t calls;
} kernels[MAX_KERNELS];
static int kernel_count;

static struct {
    const char *name;
    int64_t started, nanoseconds;
} events[MAX_EVENTS];
static int64_t event_count;
static int tracing;

int64_t graphc_now_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

static int table_lock;

void graphc_profile_record(const char *name, int64_t started, int64_t nanoseconds) {
    int i;
    while (__atomic_exchange_n(&table_lock, 1, __ATOMIC_ACQUIRE)) {
    }
    for (i = 0; i < kernel_count && kernels[i].key != name; ++i) {
    }
    if (i == kernel_count && kernel_count < MAX_KERNELS) {
        char *copy = strdup(name);
        if (copy) {
            kernels[kernel_count].key = name;
            kernels[kernel_count++].name = copy;
        } else {
            i = MAX_KERNELS; /* out of memory: this kernel goes untimed */
        }
    }
    if (tracing && event_count < MAX_EVENTS) { /* beyond that, a run's trace keeps its first events */
        events[event_count].name = name;
        events[event_count].started = started;
        events[event_count].nanoseconds = nanoseconds;
        ++event_count;
    }
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

void graphc_trace_start(void) {
    while (__atomic_exchange_n(&table_lock, 1, __ATOMIC_ACQUIRE)) {
    }
    event_count = 0;
    tracing = 1;
    __atomic_store_n(&table_lock, 0, __ATOMIC_RELEASE);
}

int64_t graphc_trace_stop(char *text, int64_t size) {
    int64_t used = 0;
    while (__atomic_exchange_n(&table_lock, 1, __ATOMIC_ACQUIRE)) {
    }
    tracing = 0;
    for (int64_t i = 0; i < event_count && used < size; ++i)
        used += snprintf(text + used, (size_t)(size - used), "%s\t%lld\t%lld\n", events[i].name,
                         (long long)events[i].started, (long long)events[i].nanoseconds);
    __atomic_store_n(&table_lock, 0, __ATOMIC_RELEASE);
    return used < size ? used : size - 1; /* snprintf counts what did not fit: the last line is cut */
}
