#ifndef PRUNELAB_CSPARSEKERNELS_H
#define PRUNELAB_CSPARSEKERNELS_H
#include <stdint.h>

/// Sparse kernels for pruned fully connected layers (and, below, convolutions) (SparseProp-style: activations are kept
/// transposed, `[features][ld]` with the batch contiguous and padded with zeros to `ld`, a
/// multiple of 16, so every inner loop is a run of whole vectors over the batch).
///
/// Why hand-written: OpenBLAS has no sparse routines. Of the sparse libraries Debian ships
/// (`apt-cache search`: librsb, SuiteSparse incl. GraphBLAS), librsb offers SpMM on its own RSB
/// format but no sampled dense-dense product for the weight gradient, and GraphBLAS can express
/// that product as a masked mxm, through its own matrix objects and semiring kernels. Neither
/// was benchmarked here (no dependency added for them); what the
/// layer needs is ~300 lines (SpMM, SDDMM, transposes over batch-contiguous, zero-padded
/// buffers as in SparseProp), measured against SGEMM and PyTorch's CSR in results/.
///
/// Each function picks an AVX-512 (F+BW+VL+DQ), AVX2+FMA or portable C path at run time from
/// `__builtin_cpu_supports`; all paths sum in the same order per output entry within a path,
/// which may differ from the other paths (and from SGEMM) only by float rounding.

/// The path that will run: 3 = AVX-512, 2 = AVX2+FMA, 0 = portable C.
int psk_isa(void);
/// Forces a path on the calling thread only (for tests): 3, 2 or 0; a path the CPU lacks falls
/// back to the next lower one. -1 restores the automatic choice.
void psk_force_isa(int isa);

/// `dst[j*ld + b] = src[b*n + j]` for b < rows, j < n; `dst[j*ld + b] = 0` for rows <= b < ld.
void psk_transpose_pad(const float *src, int rows, int n, int ld, float *dst);
/// `psk_transpose_pad` of the rows `rows[0..<count]` of `base` (`n` floats each), gathered and
/// transposed in one pass: `dst[j*ld + b] = base[rows[b]*n + j]`, zero for count <= b < ld (a
/// training batch drawn from the data set straight into a sparse first layer's `x^T`, without
/// the row-major copy in between).
void psk_gather_transpose_pad(const float *base, const int32_t *rows, int count, int n, int ld, float *dst);
/// `dst[b*n + j] = src[j*ld + b]` for b < rows, j < n (the inverse of `psk_transpose_pad`).
void psk_untranspose(const float *src, int rows, int n, int ld, float *dst);

/// Sparse times dense, transposed layout:
/// `Y[r*ld + t] = (bias ? bias[r] : 0) + sum_{k in ptr[r]..<ptr[r+1]} W[widx[k]] * X[src[k]*ld + t]`
/// for r < nrows, t < ld. Forward of a Dense layer with CSR indices (`src` = input column),
/// input gradient with CSC indices (`src` = output row, no bias).
void psk_spmm_t(int nrows, int ld, const int32_t *ptr, const int32_t *widx, const int32_t *src,
                const float *W, const float *X, const float *bias, float *Y);

/// Sampled dense-dense product for the weight gradient at the unmasked positions only:
/// `G[widx[k]] = sum_{t < ld} DY[r*ld + t] * X[col[k]*ld + t]` for k in ptr[r]..<ptr[r+1];
/// with `widx` NULL, `G[k]` (the gradient compact, in the order of the walk's entries).
void psk_sddmm_t(int nrows, int ld, const int32_t *ptr, const int32_t *widx, const int32_t *col,
                 const float *DY, const float *X, float *G);

/// `psk_sddmm_t` adding into `G` instead of overwriting it when `accumulate` is nonzero.
void psk_sddmm_acc_t(int nrows, int ld, const int32_t *ptr, const int32_t *widx, const int32_t *col,
                     const float *DY, const float *X, float *G, int accumulate);

/// Column sums of a transposed batch over its first `n` columns: `out[r] = sum_{t < n} Y[r*ld + t]`,
/// summed from 0 in the order t = 0, 1, ... on every path, so the same bits on all of them (the
/// bias gradient; n = the batch, the padding columns left out: a sum that starts at +0 is never
/// -0, so adding the +0 padding changed no bit anyway).
void psk_row_sums(int nrows, int n, int ld, const float *Y, float *out);

/// Direct sparse convolution (no im2col columns). The input of one sample is laid out as
/// "phase planes": for stride s, plane `(c*s + a)*s + b` holds the zero-padded input's rows
/// `a, a+s, ...` and columns `b, b+s, ...` (`Hs x Ws`, plane stride `ps`), so that kernel tap
/// `(i, j) = (qi*s + a, qj*s + b)` of channel c reads, for output `(oh, ow)`, plane entry
/// `(oh + qi)*Ws + ow + qj`: a stride-1 shift. With outputs "wide" (`t = oh*Ws + ow`, the lanes
/// `ow >= OW` unused), one tap is one contiguous run `X[off + t]`, so the products below are
/// the sparse kernels above with a per-entry offset in place of a row index.

/// Offset SpMM: `Y[r*ldy + t] = (bias ? bias[r] : 0) + sum_{k in ptr[r]..<ptr[r+1]} W[widx[k]] * X[off[k] + t]`
/// for r < nrows, t < n (n a multiple of 16).
void psk_ospmm(int nrows, int n, const int32_t *ptr, const int32_t *widx, const int32_t *off,
               const float *W, const float *X, const float *bias, float *Y, long ldy);

/// Offset SDDMM: `G[widx[k]] (+)= sum_{t < n} DY[r*ldy + t] * X[off[k] + t]` for k in
/// ptr[r]..<ptr[r+1] (added when `accumulate` is nonzero; n a multiple of 16).
void psk_osddmm(int nrows, int n, const int32_t *ptr, const int32_t *widx, const int32_t *off,
                const float *DY, long ldy, const float *X, float *G, int accumulate);

/// Phase planes of one `[C, H, W]` sample (see above): `dst[((c*s + a)*s + b)*ps + u*Ws + v] =
/// x[c, u*s + a - pad, v*s + b - pad]`, 0 outside the input and in lanes `Hs*Ws ..< ps`.
void psk_phase_planes(const float *x, int C, int H, int W, int s, int pad, int Hs, int Ws, long ps, float *dst);
/// The adjoint read-back of `psk_phase_planes`: `dx[c, h, w] = src[((c*s + a)*s + b)*ps + u*Ws + v]`
/// at `h + pad = u*s + a`, `w + pad = v*s + b` (pad lanes dropped).
void psk_phase_planes_back(const float *src, int C, int H, int W, int s, int pad, int Hs, int Ws, long ps, float *dx);

#endif
