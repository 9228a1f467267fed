#ifndef PRUNELAB_CBLAS_SHIM_H
#define PRUNELAB_CBLAS_SHIM_H
// OpenBLAS's cblas.h also declares openblas_get_corename / openblas_get_config /
// openblas_set_num_threads / openblas_get_num_threads, which PruneLab reports in run.json.
#include <cblas.h>
#endif
