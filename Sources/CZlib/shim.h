#ifndef PRUNELAB_CZLIB_SHIM_H
#define PRUNELAB_CZLIB_SHIM_H
#include <zlib.h>
#endif
