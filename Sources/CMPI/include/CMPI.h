// Open MPI behind plain C functions, loaded at run time (see mpi.c), so that Synapse builds and runs where MPI is
// absent. Every function returns 0 on success, else an MPI error code or -1, and leaves a message for
// synapse_mpi_error.
#ifndef SYNAPSE_CMPI_H
#define SYNAPSE_CMPI_H

#include <stdint.h>

// Loads libmpi (Open MPI's libmpi.so.40, or the file $SYNAPSE_MPI_LIBRARY names) and calls MPI_Init; errors come
// back as codes instead of aborting the job.
int synapse_mpi_start(void);
int synapse_mpi_rank(int *rank);
int synapse_mpi_size(int *size);
// In place, over every rank: values[i] = the sum of values[i] on all ranks.
int synapse_mpi_sum_floats(float *values, int64_t count);
int synapse_mpi_sum_doubles(double *values, int64_t count);
// all[r] = value on rank r (all holds size entries).
int synapse_mpi_gather_u64(uint64_t value, uint64_t *all);
int synapse_mpi_barrier(void);
int synapse_mpi_finish(void);
// Ends every rank of the job with `code`.
void synapse_mpi_abort(int code);
// The message of the last failure.
const char *synapse_mpi_error(void);

#endif
