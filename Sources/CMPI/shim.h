// Open MPI's handles (MPI_COMM_WORLD, MPI_DOUBLE, MPI_SUM, ...) are macros expanding to addresses of globals, which
// Swift does not import; these functions return them.
#include <mpi.h>

static inline MPI_Comm curvature_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype curvature_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype curvature_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Datatype curvature_mpi_int64(void) { return MPI_INT64_T; }
static inline MPI_Datatype curvature_mpi_int32(void) { return MPI_INT32_T; }
static inline MPI_Op curvature_mpi_sum(void) { return MPI_SUM; }
