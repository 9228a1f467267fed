#ifndef PRUNELAB_CTRAJECTORYKERNELS_H
#define PRUNELAB_CTRAJECTORYKERNELS_H
#include <stdint.h>

/// One update of `TrajectoryStatistics` (Sources/Pruning/TrajectoryStatistics.swift gives the
/// recurrences), over entries `lo..<hi` of one parameter.
///
/// Why hand-written: the update mixes Float and Double lanes with data-dependent branches
/// (sign flips, masked entries), which the Swift compiler leaves scalar, and SwiftPM cannot
/// build one Swift function for AVX-512 and AVX2 with a run-time choice. The `linear` criterion
/// spent 5-6% of a LeNet-300-100 run here (perf, Zen 5). Every path does the same IEEE operations
/// per entry as the scalar definition, in the same order, with no fused multiply-add
/// (`fp contract(off)`), so all paths give the same bits as each other and as the Swift loop
/// they replace.

/// The per-entry state, struct of arrays (each array holds the parameter's `count` entries).
typedef struct {
    float *prev, *disp, *path, *flips, *sign;
    double *mean, *mxx, *ctx;
} pts_state;

/// The shared scalars of one update: `first` (the first call: no update part), the decays
/// `bf` (Float) and `bd` (Double), the new sample's centred time `dt` and `invW = 1 / Wt`.
typedef struct {
    int first;
    float bf;
    double bd, dt, invW;
} pts_step;

/// Advances entries `lo..<hi` with `values`. With `mask` (non-NULL, and then `out` too): an
/// entry whose mask is 0 is reset to the zero state and marked in `out` (1), and skipped when it
/// was marked already; a live entry advances and is unmarked (0).
void pts_update(pts_state s, pts_step c, long lo, long hi, const float *values, const float *mask, uint8_t *out);

/// The path is the sparse kernels' (`psk_isa`, `psk_force_isa` in csparsekernels.h): 3 = AVX-512
/// (F+BW+VL+DQ), 2 = AVX2, 0 = portable C.

#endif
