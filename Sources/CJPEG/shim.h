#ifndef PRUNELAB_CJPEG_SHIM_H
#define PRUNELAB_CJPEG_SHIM_H
// jpeglib.h needs FILE and size_t declared before it.
#include <stdio.h>
#include <jpeglib.h>
#endif
