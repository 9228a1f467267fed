#ifndef PRUNELAB_CPNG_SHIM_H
#define PRUNELAB_CPNG_SHIM_H
#include <png.h>
#endif
