/* The thread pool: one per process, used by generated kernels for parallel loops.
 *
 * graphc_parallel_for(task, context, count) runs task(context, i, thread) for
 * every i in [0, count) (the caller is thread 0, and runs index 0). Each thread takes the next
 * index not yet taken until none is left, so a thread that starts late (a worker
 * still asleep, or its core busy with another process) leaves its share to the
 * others instead of holding the job up, and the caller waits for the tasks, not
 * for every worker. Kernels make every task's arithmetic independent of which
 * thread runs it, so results do not depend on the thread count or on who ran
 * what. Workers spin briefly after a job (kernels of one step come in quick
 * succession), then sleep on a condition variable.
 *
 * GRAPHC_NUM_THREADS sets the size (default: the number of online CPUs). Only
 * one job runs at a time; a caller that finds the pool busy (another Python
 * thread running a step) runs its job alone, which gives the same results.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "graphc_runtime.h"

/* ~0.1 ms at ~28 ns per pause (measured on Zen 3): long enough to catch the next kernel of a
 * step, short enough not to steal the core from other work between steps. */
#define SPIN_ITERATIONS 4000
#define MAX_THREADS 256

typedef struct {
    void *data;
    int64_t bytes;
} scratch_buffer;

static struct {
    pthread_mutex_t submit;  /* held while a job runs */
    pthread_mutex_t lock;    /* guards sleeping workers */
    pthread_cond_t wake;
    int threads;             /* including the caller; 0 = not started */
    pthread_t workers[MAX_THREADS];
    graphc_task task;
    void *context;
    _Atomic int64_t count;   /* read by threads holding a stale ticket too: atomic */
    _Atomic uint64_t generation;
    uint64_t start_generation; /* the generation when the workers were created */
    /* The job's generation (high 32 bits) and its next untaken index (low 32), taken by compare-and-swap:
     * a thread holding a stale ticket cannot take an index of a newer job. CLOSED marks a finished job. */
    _Atomic uint64_t ticket;
    _Atomic int64_t done;    /* tasks of the job finished */
    _Atomic int sleeping;
    _Atomic int shutdown;
    scratch_buffer scratch[MAX_THREADS]; /* [0] unused: see graphc_scratch */
} pool = {.submit = PTHREAD_MUTEX_INITIALIZER, .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

#define CLOSED 0xFFFFFFFFu

/* Runs the job of generation `generation`'s untaken tasks one at a time, until none is left. A job's
 * fields (task, context, count) stay put while one of its indices is untaken: the caller replaces
 * them only after all its tasks are done and its ticket is CLOSED. */
static void run_tasks(int thread, uint64_t generation) {
    uint64_t ticket = atomic_load_explicit(&pool.ticket, memory_order_acquire);
    for (;;) {
        uint64_t index = ticket & CLOSED;
        if ((ticket >> 32) != (generation & CLOSED) || index == CLOSED ||
            (int64_t)index >= atomic_load_explicit(&pool.count, memory_order_relaxed))
            return;
        if (atomic_compare_exchange_weak_explicit(&pool.ticket, &ticket, ticket + 1, memory_order_acquire,
                                                  memory_order_acquire)) {
            pool.task(pool.context, (int64_t)index, thread);
            atomic_fetch_add_explicit(&pool.done, 1, memory_order_release);
            ticket = atomic_load_explicit(&pool.ticket, memory_order_acquire);
        }
    }
}

static void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void *worker_main(void *argument) {
    int thread = (int)(intptr_t)argument;
    /* Not the current generation: a job may already have been posted before this thread ran. */
    uint64_t seen = pool.start_generation;
    for (;;) {
        uint64_t now;
        int spins = 0;
        while ((now = atomic_load_explicit(&pool.generation, memory_order_acquire)) == seen &&
               !atomic_load(&pool.shutdown) && spins < SPIN_ITERATIONS) {
            cpu_relax();
            ++spins;
        }
        if (now == seen && !atomic_load(&pool.shutdown)) {
            pthread_mutex_lock(&pool.lock);
            atomic_fetch_add(&pool.sleeping, 1);
            while ((now = atomic_load(&pool.generation)) == seen && !atomic_load(&pool.shutdown))
                pthread_cond_wait(&pool.wake, &pool.lock);
            atomic_fetch_sub(&pool.sleeping, 1);
            pthread_mutex_unlock(&pool.lock);
        }
        if (atomic_load(&pool.shutdown)) return NULL;
        seen = now;
        run_tasks(thread, now);
    }
}

static int configured_threads(void) {
    const char *text = getenv("GRAPHC_NUM_THREADS");
    long n = text && *text ? strtol(text, NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    if (n > MAX_THREADS) n = MAX_THREADS;
    return (int)n;
}

static void stop_workers(void) {
    if (pool.threads <= 1) return;
    pthread_mutex_lock(&pool.lock);
    atomic_store(&pool.shutdown, 1);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
    for (int t = 1; t < pool.threads; ++t) pthread_join(pool.workers[t], NULL);
    atomic_store(&pool.shutdown, 0);
}

/* Starts `threads` - 1 workers; returns the number actually running (including the caller). */
static int start_workers(int threads) {
    pool.threads = 1;
    pool.start_generation = atomic_load(&pool.generation);
    for (int t = 1; t < threads; ++t) {
        if (pthread_create(&pool.workers[t], NULL, worker_main, (void *)(intptr_t)t) != 0) break;
        pool.threads = t + 1;
    }
    return pool.threads;
}

int32_t graphc_set_num_threads(int32_t threads) {
    if (threads < 1) threads = configured_threads();
    if (threads > MAX_THREADS) threads = MAX_THREADS;
    pthread_mutex_lock(&pool.submit);
    stop_workers();
    int running = start_workers(threads);
    pthread_mutex_unlock(&pool.submit);
    return running;
}

int32_t graphc_num_threads(void) {
    if (pool.threads == 0) graphc_set_num_threads(0);
    return pool.threads;
}

void graphc_parallel_for(graphc_task task, void *context, int64_t count) {
    if (count <= 0) return;
    int threads = graphc_num_threads();
    if (threads == 1 || count == 1 || pthread_mutex_trylock(&pool.submit) != 0) {
        for (int64_t i = 0; i < count; ++i) task(context, i, 0);
        return;
    }
    pool.task = task;
    pool.context = context;
    atomic_store_explicit(&pool.count, count, memory_order_relaxed);
    atomic_store_explicit(&pool.done, 0, memory_order_relaxed);
    uint64_t generation = atomic_load_explicit(&pool.generation, memory_order_relaxed) + 1;
    /* Index 0 is the caller's, taken before the job is posted: consecutive kernels split alike (the
     * same rows of fc1's weights in its three products) then give each core the same share, rather
     * than whichever thread won the race for the first index. */
    atomic_store_explicit(&pool.ticket, ((generation & CLOSED) << 32) | 1, memory_order_release);
    atomic_store_explicit(&pool.generation, generation, memory_order_release);
    if (atomic_load(&pool.sleeping) > 0) {
        pthread_mutex_lock(&pool.lock);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.lock);
    }
    task(context, 0, 0);
    atomic_fetch_add_explicit(&pool.done, 1, memory_order_release);
    run_tasks(0, generation);
    while (atomic_load_explicit(&pool.done, memory_order_acquire) < count) cpu_relax();
    atomic_store_explicit(&pool.ticket, ((generation & CLOSED) << 32) | CLOSED, memory_order_release);
    pthread_mutex_unlock(&pool.submit);
}

/* Thread 0 is whichever thread called the step: several Python threads (sessions) may run
 * steps at once, the ones that found the pool busy alone, so each caller thread has its own
 * buffer, freed when the thread exits. Workers 1.. serve one job at a time: theirs are shared. */
static pthread_key_t caller_scratch_key;
static pthread_once_t caller_scratch_once = PTHREAD_ONCE_INIT;

static void free_caller_scratch(void *pointer) {
    scratch_buffer *buffer = pointer;
    free(buffer->data);
    free(buffer);
}

static void make_caller_scratch_key(void) { pthread_key_create(&caller_scratch_key, free_caller_scratch); }

static scratch_buffer *caller_scratch(void) {
    pthread_once(&caller_scratch_once, make_caller_scratch_key);
    scratch_buffer *buffer = pthread_getspecific(caller_scratch_key);
    if (!buffer) {
        buffer = calloc(1, sizeof *buffer);
        if (buffer && pthread_setspecific(caller_scratch_key, buffer) != 0) {
            free(buffer);
            buffer = NULL;
        }
    }
    return buffer;
}

void *graphc_scratch(int64_t thread, int64_t bytes) {
    scratch_buffer *buffer = thread == 0 ? caller_scratch() : &pool.scratch[thread];
    if (!buffer) return NULL;  /* the kernel reports ResourceExhausted */
    if (buffer->bytes < bytes) {
        free(buffer->data);
        /* 64-byte aligned, rounded up: vector loads and cache lines never straddle. */
        int64_t size = (bytes + 63) / 64 * 64;
        buffer->data = aligned_alloc(64, (size_t)size);
        buffer->bytes = buffer->data ? size : 0;
    }
    return buffer->data;
}

/* After fork() only the forking thread exists: forget the pool; the child starts its own. */
static void forget_pool_in_child(void) {
    pool.threads = 0;
    pthread_mutex_init(&pool.submit, NULL);
    pthread_mutex_init(&pool.lock, NULL);
    pthread_cond_init(&pool.wake, NULL);
    atomic_store(&pool.sleeping, 0);
}

__attribute__((constructor)) static void install_fork_handler(void) {
    pthread_atfork(NULL, NULL, forget_pool_in_child);
}
