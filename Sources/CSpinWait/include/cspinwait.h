#ifndef CSPINWAIT_H
#define CSPINWAIT_H

// The processor's spin-wait hint, for loops that poll a flag another thread will set: on x86
// `pause` (lets the sibling hyperthread run and avoids the memory-order flush when the loop
// exits), on arm64 `yield`. Swift has no inline assembly, hence this one-line C header.
static inline void csw_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

#endif
