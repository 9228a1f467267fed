#include "callocator.h"
#if defined(__GLIBC__)
#include <malloc.h>
#endif

int prunelab_retain_freed_memory(void) {
#if defined(__GLIBC__)
    return mallopt(M_MMAP_THRESHOLD, 256 << 20) && mallopt(M_TRIM_THRESHOLD, 512 << 20);
#else
    return 0;
#endif
}
