/* The C runtime linked into every library graphc compiles.
 *
 * Generated code calls these functions; they never abort the process: failures
 * are reported through a graphc_status that the Python session turns into the
 * TF1 exception for the code (3 = InvalidArgumentError, ...).
 */
#ifndef GRAPHC_RUNTIME_H
#define GRAPHC_RUNTIME_H

#include <stdint.h>

#define GRAPHC_STATUS_MESSAGE_BYTES 1024

typedef struct graphc_status {
    int32_t code; /* 0: OK; otherwise a TF canonical error code */
    char message[GRAPHC_STATUS_MESSAGE_BYTES];
} graphc_status;

/* Records a failure: `format` takes up to three int64 arguments (%lld). Returns `code`. */
int32_t graphc_fail(graphc_status *status, int32_t code, const char *format, int64_t a, int64_t b,
                    int64_t c);

/* Records a failed assertion (tf.Assert): `format` with each "%v" replaced by TensorFlow's summary
 * (Tensor::SummarizeValue) of the next of `values`, its first `summarize` elements (negative: all), and "%%" by
 * "%". `layouts` describes the values, each by its element kind (f float, d double, i int32, l int64, b bool),
 * rank and dims, separated by spaces. Returns `code`. */
#define GRAPHC_MAX_SUMMARIZED_RANK 32
int32_t graphc_fail_summarized(graphc_status *status, int32_t code, const char *format, const char *layouts,
                               const void *const *values, int64_t summarize);

/* Counter-based random numbers (Philox4x32-10); see graphc/ops/philox.py for the layout.
 * `run` is the op's execution count; key is (seed, seed2). The uniform and normal generators
 * write elements [first, end) of the result (first a multiple of 4 for float, 2 for double);
 * the truncated normal ones its `count` elements. */
void graphc_random_uniform_f32(float *out, int64_t first, int64_t end, uint32_t key0, uint32_t key1, uint64_t run);
void graphc_random_uniform_f64(double *out, int64_t first, int64_t end, uint32_t key0, uint32_t key1, uint64_t run);
void graphc_random_normal_f32(float *out, int64_t first, int64_t end, uint32_t key0, uint32_t key1, uint64_t run);
void graphc_random_normal_f64(double *out, int64_t first, int64_t end, uint32_t key0, uint32_t key1, uint64_t run);
void graphc_truncated_normal_f32(float *out, int64_t count, uint32_t key0, uint32_t key1, uint64_t run);
void graphc_truncated_normal_f64(double *out, int64_t count, uint32_t key0, uint32_t key1, uint64_t run);

/* The thread pool (threads.c). */
typedef void (*graphc_task)(void *context, int64_t index, int64_t thread);
void graphc_parallel_for(graphc_task task, void *context, int64_t count);
int32_t graphc_num_threads(void);
int32_t graphc_set_num_threads(int32_t threads); /* < 1: GRAPHC_NUM_THREADS or the CPU count */
/* A per-thread buffer of at least `bytes`, kept between calls (allocated when it must grow).
 * May return NULL when memory is exhausted. */
void *graphc_scratch(int64_t thread, int64_t bytes);

/* Kernel timing for GRAPHC_PROFILE=1 and traced runs (profile.c); times are CLOCK_MONOTONIC ns. */
int64_t graphc_now_ns(void);
void graphc_profile_record(const char *name, int64_t started, int64_t nanoseconds);
int64_t graphc_profile_report(char *text, int64_t size); /* "name\tns\tcalls" lines */
void graphc_trace_start(void); /* from now on, each record is also kept as an event */
int64_t graphc_trace_stop(char *text, int64_t size); /* "name\tstarted\tns" lines of the events */

/* Collectives on MPI (collectives.c): graphc.horovod connects them to the MPI library with the addresses of
 * MPI_Allreduce, MPI_Allgather, MPI_Bcast and handles as intptr_t (`types`: GRAPHC_COLLECTIVE_DTYPES of them:
 * float32, float64, int32, int64); until then the world is this process. Each returns 0, an MPI error code,
 * or -1 for a step compiled for a world of another size. `dtype` indexes `types`. */
#define GRAPHC_COLLECTIVE_DTYPES 4
int32_t graphc_mpi_connect(void *allreduce, void *allgather, void *bcast, intptr_t comm, intptr_t sum,
                           intptr_t in_place, const intptr_t *types, int32_t size);
int32_t graphc_mpi_size(void);
int32_t graphc_mpi_allreduce(const void *in, void *out, int64_t count, int32_t dtype);
int32_t graphc_mpi_allgather(const void *in, void *out, int64_t count, int32_t dtype, int32_t size);
int32_t graphc_mpi_broadcast(const void *in, void *out, int64_t count, int32_t dtype, int32_t root, int32_t size);

#endif
