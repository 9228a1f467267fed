#ifndef PRUNELAB_CALLOCATOR_H
#define PRUNELAB_CALLOCATOR_H
/// Raises glibc's mmap and trim thresholds so large freed blocks stay in the process
/// (see TensorCore's Allocator). Returns 1 on success.
int prunelab_retain_freed_memory(void);
#endif
