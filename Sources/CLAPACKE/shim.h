#include <lapacke.h>
// lapack_int is a macro, which Swift cannot import; a typedef it can.
typedef lapack_int LapackInt;
