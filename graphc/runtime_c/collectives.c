/* Collectives for data-parallel steps (graphc/ops/collective_ops.py), on MPI.
 *
 * runtime_c does not link against an MPI library: graphc.horovod.init() passes
 * the addresses of MPI_Allreduce, MPI_Allgather and MPI_Bcast of the library
 * mpi4py loaded, with the handles of its communicator, MPI_SUM, MPI_IN_PLACE and
 * datatypes (graphc_mpi_connect). Handles are passed as intptr_t: Open MPI's
 * are pointers and MPICH's ints, both of which the x86-64 and AArch64 calling
 * conventions pass in one integer register. Until connected, the world is this
 * process alone and every collective is a copy.
 *
 * Each function returns 0, an MPI error code (> 0; the communicator returns
 * errors instead of aborting), or -1 when the step was compiled for a world of
 * another size (or a root rank outside it); the kernel turns it into a status.
 */
#include <string.h>

#include "graphc_runtime.h"

typedef int (*mpi_allreduce_function)(const void *, void *, int, intptr_t, intptr_t, intptr_t);
typedef int (*mpi_allgather_function)(const void *, int, intptr_t, void *, int, intptr_t, intptr_t);
typedef int (*mpi_bcast_function)(void *, int, intptr_t, int, intptr_t);

/* Element sizes of GRAPHC_COLLECTIVE_DTYPES, in the order of runtime/abi.py's COLLECTIVE_DTYPES. */
static const int64_t element_bytes[GRAPHC_COLLECTIVE_DTYPES] = {4, 8, 4, 8};

static struct {
    mpi_allreduce_function allreduce;
    mpi_allgather_function allgather;
    mpi_bcast_function bcast;
    intptr_t comm, sum, in_place;
    intptr_t types[GRAPHC_COLLECTIVE_DTYPES];
    int32_t size;
} mpi = {.size = 1};

int32_t graphc_mpi_connect(void *allreduce, void *allgather, void *bcast, intptr_t comm, intptr_t sum,
                           intptr_t in_place, const intptr_t *types, int32_t size) {
    mpi.allreduce = (mpi_allreduce_function)allreduce;
    mpi.allgather = (mpi_allgather_function)allgather;
    mpi.bcast = (mpi_bcast_function)bcast;
    mpi.comm = comm;
    mpi.sum = sum;
    mpi.in_place = in_place;
    memcpy(mpi.types, types, sizeof mpi.types);
    mpi.size = size;
    return 0;
}

int32_t graphc_mpi_size(void) { return mpi.size; }

static void copy(const void *in, void *out, int64_t count, int32_t dtype) {
    if (in != out)
        memcpy(out, in, (size_t)(count * element_bytes[dtype]));
}

int32_t graphc_mpi_allreduce(const void *in, void *out, int64_t count, int32_t dtype) {
    if (mpi.allreduce == NULL) {
        copy(in, out, count, dtype);
        return 0;
    }
    /* In place when the memory plan gave the result the operand's buffer; otherwise MPI writes `out`
     * directly: no copy either way. */
    const void *send = in == out ? (const void *)mpi.in_place : in;
    return mpi.allreduce(send, out, (int)count, mpi.types[dtype], mpi.sum, mpi.comm);
}

int32_t graphc_mpi_allgather(const void *in, void *out, int64_t count, int32_t dtype, int32_t size) {
    if (size != mpi.size)
        return -1;
    if (mpi.allgather == NULL) {
        copy(in, out, count, dtype);
        return 0;
    }
    return mpi.allgather(in, (int)count, mpi.types[dtype], out, (int)count, mpi.types[dtype], mpi.comm);
}

int32_t graphc_mpi_broadcast(const void *in, void *out, int64_t count, int32_t dtype, int32_t root,
                             int32_t size) {
    if (size != mpi.size || root < 0 || root >= mpi.size)
        return -1;
    copy(in, out, count, dtype);
    if (mpi.bcast == NULL)
        return 0;
    return mpi.bcast(out, (int)count, mpi.types[dtype], root, mpi.comm);
}
