// Open MPI, loaded with dlopen. Its handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, ...) are macros over the addresses
// of global objects, which Swift cannot import; here they are those objects' addresses, found by name. Open MPI
// loads its own components as plugins that need libmpi's symbols, hence RTLD_GLOBAL.
#include "CMPI.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

typedef void *handle;
static int (*mpi_init_thread)(int *, char ***, int, int *);
static int (*mpi_comm_rank)(handle, int *);
static int (*mpi_comm_size)(handle, int *);
static int (*mpi_allreduce)(const void *, void *, int, handle, handle, handle);
static int (*mpi_allgather)(const void *, int, handle, void *, int, handle, handle);
static int (*mpi_barrier)(handle);
static int (*mpi_finalize)(void);
static int (*mpi_abort)(handle, int);
static int (*mpi_error_string)(int, char *, int *);
static int (*mpi_comm_set_errhandler)(handle, handle);
static handle world, float_type, double_type, uint64_type, sum, errors_return;
static char message[1024];

// Open MPI's MPI_IN_PLACE.
#define IN_PLACE ((void *)1)
// MPI counts are ints: larger buffers go in pieces.
#define PIECE (1 << 28)

static int fail(int code, const char *what) {
    char text[512] = "";
    int length = 0;
    if (code > 0 && mpi_error_string != NULL) mpi_error_string(code, text, &length);
    snprintf(message, sizeof message, "%s failed%s%s", what, length > 0 ? ": " : "", text);
    return code == 0 ? -1 : code;
}

int synapse_mpi_start(void) {
    const char *path = getenv("SYNAPSE_MPI_LIBRARY");
    void *library = dlopen(path != NULL ? path : "libmpi.so.40", RTLD_NOW | RTLD_GLOBAL);
    if (library == NULL) {
        snprintf(message, sizeof message, "Open MPI could not be loaded (%s); install openmpi-bin and libopenmpi3", dlerror());
        return -1;
    }
    struct { const char *name; void **target; } symbols[] = {
        {"MPI_Init_thread", (void **)&mpi_init_thread}, {"MPI_Comm_rank", (void **)&mpi_comm_rank},
        {"MPI_Comm_size", (void **)&mpi_comm_size}, {"MPI_Allreduce", (void **)&mpi_allreduce},
        {"MPI_Allgather", (void **)&mpi_allgather}, {"MPI_Barrier", (void **)&mpi_barrier},
        {"MPI_Finalize", (void **)&mpi_finalize}, {"MPI_Abort", (void **)&mpi_abort},
        {"MPI_Error_string", (void **)&mpi_error_string}, {"MPI_Comm_set_errhandler", (void **)&mpi_comm_set_errhandler},
        {"ompi_mpi_comm_world", &world}, {"ompi_mpi_float", &float_type}, {"ompi_mpi_double", &double_type},
        {"ompi_mpi_uint64_t", &uint64_type}, {"ompi_mpi_op_sum", &sum}, {"ompi_mpi_errors_return", &errors_return},
    };
    for (size_t i = 0; i < sizeof symbols / sizeof symbols[0]; i++) {
        *symbols[i].target = dlsym(library, symbols[i].name);
        if (*symbols[i].target == NULL) {
            snprintf(message, sizeof message, "the MPI library has no %s: it is not Open MPI", symbols[i].name);
            return -1;
        }
    }
    // The all-reduce of data-parallel training runs on a thread of its own, never at the same time as another MPI
    // call (MPI_THREAD_SERIALIZED, Open MPI's value 2).
    int provided = 0;
    int code = mpi_init_thread(NULL, NULL, 2, &provided);
    if (code != 0) return fail(code, "MPI_Init_thread");
    if (provided < 2) {
        snprintf(message, sizeof message, "this Open MPI does not allow MPI calls from more than one thread (level %d)", provided);
        return -1;
    }
    code = mpi_comm_set_errhandler(world, errors_return);
    return code == 0 ? 0 : fail(code, "MPI_Comm_set_errhandler");
}

int synapse_mpi_rank(int *rank) {
    int code = mpi_comm_rank(world, rank);
    return code == 0 ? 0 : fail(code, "MPI_Comm_rank");
}

int synapse_mpi_size(int *size) {
    int code = mpi_comm_size(world, size);
    return code == 0 ? 0 : fail(code, "MPI_Comm_size");
}

static int sum_in_place(void *values, int64_t count, handle type, int64_t bytes) {
    for (int64_t start = 0; start < count; start += PIECE) {
        int n = (int)(count - start < PIECE ? count - start : PIECE);
        int code = mpi_allreduce(IN_PLACE, (char *)values + start * bytes, n, type, sum, world);
        if (code != 0) return fail(code, "MPI_Allreduce");
    }
    return 0;
}

int synapse_mpi_sum_floats(float *values, int64_t count) { return sum_in_place(values, count, float_type, 4); }

int synapse_mpi_sum_doubles(double *values, int64_t count) { return sum_in_place(values, count, double_type, 8); }

int synapse_mpi_gather_u64(uint64_t value, uint64_t *all) {
    int code = mpi_allgather(&value, 1, uint64_type, all, 1, uint64_type, world);
    return code == 0 ? 0 : fail(code, "MPI_Allgather");
}

int synapse_mpi_barrier(void) {
    int code = mpi_barrier(world);
    return code == 0 ? 0 : fail(code, "MPI_Barrier");
}

int synapse_mpi_finish(void) {
    int code = mpi_finalize();
    return code == 0 ? 0 : fail(code, "MPI_Finalize");
}

void synapse_mpi_abort(int code) { mpi_abort(world, code); }

const char *synapse_mpi_error(void) { return message; }
