// Sparse kernels for pruned Dense layers; see include/csparsekernels.h for the layout and why
// they are hand-written. Three paths: AVX-512 (F+BW+VL+DQ), AVX2+FMA, portable C, chosen per
// call from __builtin_cpu_supports (a read of a table filled at load time).
#include "csparsekernels.h"
#include <immintrin.h>
#include <string.h>

// -1: automatic. Per thread, so that a test forcing a path does not change the path other
// threads (other tests, data-parallel workers) run.
static _Thread_local int forced_isa = -1;

static int detected_isa(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
        return 3;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 2;
    return 0;
}

int psk_isa(void) {
    int d = detected_isa();
    int f = forced_isa;
    if (f < 0) return d;
    return f < d ? (f >= 2 ? f : 0) : d;
}

void psk_force_isa(int isa) { forced_isa = isa; }

// ------------------------------------------------------------------------------ transposes

// Every transpose here reads R source rows of C floats and writes dst[c*ds + r] = row_r[c]. Row r
// is at `src + r*ss`, or at `src + rows[r]*ss` when a row index array is given (a batch gathered
// from the data set); one code path for both.
#define ROW(r) (src + (long)(rows ? rows[(r)] : (r)) * ss)

static void transpose_scalar(const float *src, const int32_t *rows, int ss, int R, int C, float *dst, int ds) {
    for (int r0 = 0; r0 < R; r0 += 16)
        for (int c0 = 0; c0 < C; c0 += 16) {
            int r1 = r0 + 16 < R ? r0 + 16 : R, c1 = c0 + 16 < C ? c0 + 16 : C;
            for (int r = r0; r < r1; r++) {
                const float *row = ROW(r);
                for (int c = c0; c < c1; c++) dst[(long)c * ds + r] = row[c];
            }
        }
}

// The 8x8 block of the eight rows p[0..7] at column c, transposed in registers: o[j] lane i is
// p[i][c + j].
__attribute__((target("avx2,fma")))
static inline void transpose8x8_regs(const float *const *p, int c, __m256 o[8]) {
    __m256 r0 = _mm256_loadu_ps(p[0] + c), r1 = _mm256_loadu_ps(p[1] + c);
    __m256 r2 = _mm256_loadu_ps(p[2] + c), r3 = _mm256_loadu_ps(p[3] + c);
    __m256 r4 = _mm256_loadu_ps(p[4] + c), r5 = _mm256_loadu_ps(p[5] + c);
    __m256 r6 = _mm256_loadu_ps(p[6] + c), r7 = _mm256_loadu_ps(p[7] + c);
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
    __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
    __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    o[0] = _mm256_permute2f128_ps(u0, u4, 0x20), o[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    o[2] = _mm256_permute2f128_ps(u2, u6, 0x20), o[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    o[4] = _mm256_permute2f128_ps(u0, u4, 0x31), o[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    o[6] = _mm256_permute2f128_ps(u2, u6, 0x31), o[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

// The 8x8 block of the eight rows p[0..7] at column c, transposed into dst.
__attribute__((target("avx2,fma")))
static inline void transpose8x8(const float *const *p, int c, float *dst, int ds) {
    __m256 o[8];
    transpose8x8_regs(p, c, o);
    for (int j = 0; j < 8; j++) _mm256_storeu_ps(dst + j * (long)ds, o[j]);
}

__attribute__((target("avx2,fma")))
static void transpose_avx2(const float *src, const int32_t *rows, int ss, int R, int C, float *dst, int ds) {
    int R8 = R & ~7, C8 = C & ~7;
    for (int r = 0; r < R8; r += 8) {
        const float *p[8];
        for (int i = 0; i < 8; i++) p[i] = ROW(r + i);
        for (int c = 0; c < C8; c += 8) transpose8x8(p, c, dst + (long)c * ds + r, ds);
    }
    // ragged edges
    for (int r = 0; r < R; r++) {
        const float *row = ROW(r);
        for (int c = (r < R8 ? C8 : 0); c < C; c++) dst[(long)c * ds + r] = row[c];
    }
}
#undef ROW

static void transpose(const float *src, const int32_t *rows, int ss, int R, int C, float *dst, int ds) {
    if (psk_isa() >= 2) transpose_avx2(src, rows, ss, R, C, dst, ds);
    else transpose_scalar(src, rows, ss, R, C, dst, ds);
}

// The transposed rows, then zeros in columns count..<ld of every output row.
static void transpose_pad(const float *src, const int32_t *rows, int count, int n, int ld, float *dst) {
    transpose(src, rows, n, count, n, dst, ld);
    if (ld > count)
        for (int j = 0; j < n; j++) memset(dst + (long)j * ld + count, 0, sizeof(float) * (size_t)(ld - count));
}

void psk_gather_transpose_pad(const float *base, const int32_t *rows, int count, int n, int ld, float *dst) {
    transpose_pad(base, rows, count, n, ld, dst);
}

void psk_transpose_pad(const float *src, int rows, int n, int ld, float *dst) {
    transpose_pad(src, NULL, rows, n, ld, dst);
}

void psk_untranspose(const float *src, int rows, int n, int ld, float *dst) {
    transpose(src, NULL, ld, n, rows, dst, n);
}

// ------------------------------------------------------------------------------------ SpMM

// Software prefetch distance, in nonzeros, and a prefetch of the 64 floats (four lines) at p.
#ifndef PSK_AHEAD
#define PSK_AHEAD 6
#endif
#define PREFETCH_ROW64(p)                                                                      \
    do {                                                                                       \
        const char *p_ = (const char *)(p);                                                    \
        _mm_prefetch(p_, _MM_HINT_T0); _mm_prefetch(p_ + 64, _MM_HINT_T0);                     \
        _mm_prefetch(p_ + 128, _MM_HINT_T0); _mm_prefetch(p_ + 192, _MM_HINT_T0);              \
    } while (0)

static void spmm_scalar(int nrows, int ld, const int32_t *ptr, const int32_t *widx, const int32_t *src,
                        const float *W, const float *X, const float *bias, float *Y) {
    for (int r = 0; r < nrows; r++) {
        float *y = Y + (long)r * ld;
        float b0 = bias ? bias[r] : 0.0f;
        for (int t = 0; t < ld; t++) y[t] = b0;
        for (int k = ptr[r]; k < ptr[r + 1]; k++) {
            float w = W[widx[k]];
            const float *x = X + (long)src[k] * ld;
            for (int t = 0; t < ld; t++) y[t] += w * x[t];
        }
    }
}

__attribute__((target("avx2,fma")))
static void spmm_avx2(int nrows, int ld, const int32_t *ptr, const int32_t *widx, const int32_t *src,
                      const float *W, const float *X, const float *bias, float *Y) {
    const int kend = ptr[nrows];
    for (int r = 0; r < nrows; r++) {
        float *y = Y + (long)r * ld;
        __m256 b = _mm256_set1_ps(bias ? bias[r] : 0.0f);
        const int k0 = ptr[r], k1 = ptr[r + 1];
        int t0 = 0;
        for (; t0 + 64 <= ld; t0 += 64) {
            __m256 a0 = b, a1 = b, a2 = b, a3 = b, a4 = b, a5 = b, a6 = b, a7 = b;
            for (int k = k0; k < k1; k++) {
                // the rows of X a nonzero reads are at random columns, beyond the hardware
                // prefetcher: ask for the one PSK_AHEAD nonzeros on (results unchanged)
                if (k + PSK_AHEAD < kend) PREFETCH_ROW64(X + (long)src[k + PSK_AHEAD] * ld + t0);
                __m256 w = _mm256_set1_ps(W[widx[k]]);
                const float *x = X + (long)src[k] * ld + t0;
                a0 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x + 0), a0);
                a1 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x + 8), a1);
                a2 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x + 16), a2);
                a3 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x + 24), a3);
                a4 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x + 32), a4);
                a5 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x + 40), a5);
                a6 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x + 48), a6);
                a7 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x + 56), a7);
            }
            _mm256_storeu_ps(y + t0 + 0, a0); _mm256_storeu_ps(y + t0 + 8, a1);
            _mm256_storeu_ps(y + t0 + 16, a2); _mm256_storeu_ps(y + t0 + 24, a3);
            _mm256_storeu_ps(y + t0 + 32, a4); _mm256_storeu_ps(y + t0 + 40, a5);
            _mm256_storeu_ps(y + t0 + 48, a6); _mm256_storeu_ps(y + t0 + 56, a7);
        }
        for (; t0 < ld; t0 += 16) {
            __m256 a0 = b, a1 = b;
            for (int k = k0; k < k1; k++) {
                __m256 w = _mm256_set1_ps(W[widx[k]]);
                const float *x = X + (long)src[k] * ld + t0;
                a0 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x + 0), a0);
                a1 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x + 8), a1);
            }
            _mm256_storeu_ps(y + t0 + 0, a0); _mm256_storeu_ps(y + t0 + 8, a1);
        }
    }
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
static void spmm_avx512(int nrows, int ld, const int32_t *ptr, const int32_t *widx, const int32_t *src,
                        const float *W, const float *X, const float *bias, float *Y) {
    for (int r = 0; r < nrows; r++) {
        float *y = Y + (long)r * ld;
        __m512 b = _mm512_set1_ps(bias ? bias[r] : 0.0f);
        const int k0 = ptr[r], k1 = ptr[r + 1];
        int t0 = 0;
        for (; t0 + 64 <= ld; t0 += 64) {
            // two accumulator sets (even and odd k) for more independent FMA chains
            __m512 a0 = b, a1 = b, a2 = b, a3 = b;
            __m512 z = _mm512_setzero_ps();
            __m512 c0 = z, c1 = z, c2 = z, c3 = z;
            int k = k0;
            for (; k + 2 <= k1; k += 2) {
                __m512 w = _mm512_set1_ps(W[widx[k]]), v = _mm512_set1_ps(W[widx[k + 1]]);
                const float *x = X + (long)src[k] * ld + t0, *u = X + (long)src[k + 1] * ld + t0;
                a0 = _mm512_fmadd_ps(w, _mm512_loadu_ps(x + 0), a0);
                a1 = _mm512_fmadd_ps(w, _mm512_loadu_ps(x + 16), a1);
                a2 = _mm512_fmadd_ps(w, _mm512_loadu_ps(x + 32), a2);
                a3 = _mm512_fmadd_ps(w, _mm512_loadu_ps(x + 48), a3);
                c0 = _mm512_fmadd_ps(v, _mm512_loadu_ps(u + 0), c0);
                c1 = _mm512_fmadd_ps(v, _mm512_loadu_ps(u + 16), c1);
                c2 = _mm512_fmadd_ps(v, _mm512_loadu_ps(u + 32), c2);
                c3 = _mm512_fmadd_ps(v, _mm512_loadu_ps(u + 48), c3);
            }
            if (k < k1) {
                __m512 w = _mm512_set1_ps(W[widx[k]]);
                const float *x = X + (long)src[k] * ld + t0;
                a0 = _mm512_fmadd_ps(w, _mm512_loadu_ps(x + 0), a0);
                a1 = _mm512_fmadd_ps(w, _mm512_loadu_ps(x + 16), a1);
                a2 = _mm512_fmadd_ps(w, _mm512_loadu_ps(x + 32), a2);
                a3 = _mm512_fmadd_ps(w, _mm512_loadu_ps(x + 48), a3);
            }
            _mm512_storeu_ps(y + t0 + 0, _mm512_add_ps(a0, c0));
            _mm512_storeu_ps(y + t0 + 16, _mm512_add_ps(a1, c1));
            _mm512_storeu_ps(y + t0 + 32, _mm512_add_ps(a2, c2));
            _mm512_storeu_ps(y + t0 + 48, _mm512_add_ps(a3, c3));
        }
        for (; t0 < ld; t0 += 16) {
            __m512 a0 = b;
            for (int k = k0; k < k1; k++)
                a0 = _mm512_fmadd_ps(_mm512_set1_ps(W[widx[k]]), _mm512_loadu_ps(X + (long)src[k] * ld + t0), a0);
            _mm512_storeu_ps(y + t0, a0);
        }
    }
}

void psk_spmm_t(int nrows, int ld, const int32_t *ptr, const int32_t *widx, const int32_t *src,
                const float *W, const float *X, const float *bias, float *Y) {
    int isa = psk_isa();
    if (isa >= 3 && ld % 16 == 0) spmm_avx512(nrows, ld, ptr, widx, src, W, X, bias, Y);
    else if (isa >= 2 && ld % 16 == 0) spmm_avx2(nrows, ld, ptr, widx, src, W, X, bias, Y);
    else spmm_scalar(nrows, ld, ptr, widx, src, W, X, bias, Y);
}

// ----------------------------------------------------------------------------------- SDDMM

// Where entry k goes: G[widx[k]], or G[k] when widx is NULL (a compact gradient in the walk's order).
#define AT(k) (widx ? widx[(k)] : (int32_t)(k))
// G[i] = v, or G[i] += v when accumulating (convolutions sum the weight gradient over chunks)
#define STORE(i, v) do { float v_ = (v); int32_t i_ = (i); G[i_] = acc ? G[i_] + v_ : v_; } while (0)

static void sddmm_scalar(int nrows, int ld, const int32_t *ptr, const int32_t *widx, const int32_t *col,
                         const float *DY, const float *X, float *G, int acc) {
    for (int r = 0; r < nrows; r++) {
        const float *dy = DY + (long)r * ld;
        for (int k = ptr[r]; k < ptr[r + 1]; k++) {
            const float *x = X + (long)col[k] * ld;
            float s = 0;
            for (int t = 0; t < ld; t++) s += dy[t] * x[t];
            STORE(AT(k), s);
        }
    }
}

__attribute__((target("avx2,fma")))
static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma")))
static void sddmm_avx2(int nrows, int ld, const int32_t *ptr, const int32_t *widx, const int32_t *col,
                       const float *DY, const float *X, float *G, int acc) {
    for (int r = 0; r < nrows; r++) {
        const float *dy = DY + (long)r * ld;
        int k = ptr[r];
        const int k1 = ptr[r + 1];
        for (; k + 2 <= k1; k += 2) {
            const float *x = X + (long)col[k] * ld, *u = X + (long)col[k + 1] * ld;
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, c0 = a0, c1 = a0;
            for (int t = 0; t < ld; t += 16) {
                __m256 d0 = _mm256_loadu_ps(dy + t), d1 = _mm256_loadu_ps(dy + t + 8);
                a0 = _mm256_fmadd_ps(d0, _mm256_loadu_ps(x + t), a0);
                a1 = _mm256_fmadd_ps(d1, _mm256_loadu_ps(x + t + 8), a1);
                c0 = _mm256_fmadd_ps(d0, _mm256_loadu_ps(u + t), c0);
                c1 = _mm256_fmadd_ps(d1, _mm256_loadu_ps(u + t + 8), c1);
            }
            STORE(AT(k), hsum256(_mm256_add_ps(a0, a1)));
            STORE(AT(k + 1), hsum256(_mm256_add_ps(c0, c1)));
        }
        for (; k < k1; k++) {
            const float *x = X + (long)col[k] * ld;
            __m256 a0 = _mm256_setzero_ps(), a1 = a0;
            for (int t = 0; t < ld; t += 16) {
                a0 = _mm256_fmadd_ps(_mm256_loadu_ps(dy + t), _mm256_loadu_ps(x + t), a0);
                a1 = _mm256_fmadd_ps(_mm256_loadu_ps(dy + t + 8), _mm256_loadu_ps(x + t + 8), a1);
            }
            STORE(AT(k), hsum256(_mm256_add_ps(a0, a1)));
        }
    }
}

// sddmm_avx2 for ld == 32 or 64 (the rows of a 64- or 32-sample part: batch 128 over 2 or 4
// data-parallel workers): the row `dy` of a CSR row (for the CSC call of Dense's backward, a
// row of x^T) is loaded into registers once and reused for every nonzero of the row, instead
// of being re-read from L1 for every pair; on Zen that is a third fewer loads per nonzero.
// The accumulation is sddmm_avx2's, operation for operation (a0 sums lanes 0-7 of every
// 16-float block in order, a1 lanes 8-15, both from fma onto +0), so the results are the same
// bits.
#define SDDMM_AVX2_ROWREG(LD)                                                                     \
__attribute__((target("avx2,fma")))                                                               \
static void sddmm_avx2_ld##LD(int nrows, const int32_t *ptr, const int32_t *widx,               \
                              const int32_t *col, const float *DY, const float *X, float *G,    \
                              int acc) {                                                          \
    enum { NV = LD / 8 };                                                                         \
    const int kend = ptr[nrows];                                                                  \
    for (int r = 0; r < nrows; r++) {                                                             \
        int k = ptr[r];                                                                           \
        const int k1 = ptr[r + 1];                                                                \
        if (k == k1) continue;                                                                    \
        const float *dy = DY + (long)r * LD;                                                      \
        __m256 d[NV];                                                                             \
        for (int v = 0; v < NV; v++) d[v] = _mm256_loadu_ps(dy + 8 * v);                          \
        for (; k + 2 <= k1; k += 2) {                                                             \
            if (k + PSK_AHEAD + 1 < kend) {                                                       \
                PREFETCH_ROW64(X + (long)col[k + PSK_AHEAD] * LD);                                \
                PREFETCH_ROW64(X + (long)col[k + PSK_AHEAD + 1] * LD);                            \
            }                                                                                     \
            const float *x = X + (long)col[k] * LD, *u = X + (long)col[k + 1] * LD;               \
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, c0 = a0, c1 = a0;                           \
            for (int v = 0; v < NV; v += 2) {                                                     \
                a0 = _mm256_fmadd_ps(d[v], _mm256_loadu_ps(x + 8 * v), a0);                       \
                a1 = _mm256_fmadd_ps(d[v + 1], _mm256_loadu_ps(x + 8 * v + 8), a1);               \
                c0 = _mm256_fmadd_ps(d[v], _mm256_loadu_ps(u + 8 * v), c0);                       \
                c1 = _mm256_fmadd_ps(d[v + 1], _mm256_loadu_ps(u + 8 * v + 8), c1);               \
            }                                                                                     \
            STORE(AT(k), hsum256(_mm256_add_ps(a0, a1)));                                       \
            STORE(AT(k + 1), hsum256(_mm256_add_ps(c0, c1)));                                   \
        }                                                                                         \
        for (; k < k1; k++) {                                                                     \
            const float *x = X + (long)col[k] * LD;                                               \
            __m256 a0 = _mm256_setzero_ps(), a1 = a0;                                             \
            for (int v = 0; v < NV; v += 2) {                                                     \
                a0 = _mm256_fmadd_ps(d[v], _mm256_loadu_ps(x + 8 * v), a0);                       \
                a1 = _mm256_fmadd_ps(d[v + 1], _mm256_loadu_ps(x + 8 * v + 8), a1);               \
            }                                                                                     \
            STORE(AT(k), hsum256(_mm256_add_ps(a0, a1)));                                       \
        }                                                                                         \
    }                                                                                             \
}
SDDMM_AVX2_ROWREG(32)
SDDMM_AVX2_ROWREG(64)

// Four 16-lane vectors to their four sums, in lanes 0-3 of the result.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
static inline __m128 hsum4x512(__m512 a, __m512 b, __m512 c, __m512 d) {
    // 512 -> 256 per vector
    __m256 a2 = _mm256_add_ps(_mm512_castps512_ps256(a), _mm512_extractf32x8_ps(a, 1));
    __m256 b2 = _mm256_add_ps(_mm512_castps512_ps256(b), _mm512_extractf32x8_ps(b, 1));
    __m256 c2 = _mm256_add_ps(_mm512_castps512_ps256(c), _mm512_extractf32x8_ps(c, 1));
    __m256 d2 = _mm256_add_ps(_mm512_castps512_ps256(d), _mm512_extractf32x8_ps(d, 1));
    __m256 ab = _mm256_hadd_ps(a2, b2), cd = _mm256_hadd_ps(c2, d2);
    __m256 abcd = _mm256_hadd_ps(ab, cd);  // per 128-bit half: a b c d partial sums
    return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
static void sddmm_avx512(int nrows, int ld, const int32_t *ptr, const int32_t *widx, const int32_t *col,
                         const float *DY, const float *X, float *G, int acc) {
    for (int r = 0; r < nrows; r++) {
        const float *dy = DY + (long)r * ld;
        int k = ptr[r];
        const int k1 = ptr[r + 1];
        for (; k + 4 <= k1; k += 4) {
            const float *x0 = X + (long)col[k] * ld, *x1 = X + (long)col[k + 1] * ld;
            const float *x2 = X + (long)col[k + 2] * ld, *x3 = X + (long)col[k + 3] * ld;
            __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            for (int t = 0; t < ld; t += 16) {
                __m512 d = _mm512_loadu_ps(dy + t);
                a0 = _mm512_fmadd_ps(d, _mm512_loadu_ps(x0 + t), a0);
                a1 = _mm512_fmadd_ps(d, _mm512_loadu_ps(x1 + t), a1);
                a2 = _mm512_fmadd_ps(d, _mm512_loadu_ps(x2 + t), a2);
                a3 = _mm512_fmadd_ps(d, _mm512_loadu_ps(x3 + t), a3);
            }
            float s[4];
            _mm_storeu_ps(s, hsum4x512(a0, a1, a2, a3));
            STORE(AT(k), s[0]); STORE(AT(k + 1), s[1]); STORE(AT(k + 2), s[2]); STORE(AT(k + 3), s[3]);
        }
        for (; k < k1; k++) {
            const float *x = X + (long)col[k] * ld;
            __m512 a0 = _mm512_setzero_ps();
            for (int t = 0; t < ld; t += 16) a0 = _mm512_fmadd_ps(_mm512_loadu_ps(dy + t), _mm512_loadu_ps(x + t), a0);
            STORE(AT(k), _mm512_reduce_add_ps(a0));
        }
    }
}

void psk_sddmm_t(int nrows, int ld, const int32_t *ptr, const int32_t *widx, const int32_t *col,
                 const float *DY, const float *X, float *G) {
    psk_sddmm_acc_t(nrows, ld, ptr, widx, col, DY, X, G, 0);
}

void psk_sddmm_acc_t(int nrows, int ld, const int32_t *ptr, const int32_t *widx, const int32_t *col,
                     const float *DY, const float *X, float *G, int acc) {
    int isa = psk_isa();
    if (isa >= 3 && ld % 16 == 0) sddmm_avx512(nrows, ld, ptr, widx, col, DY, X, G, acc);
    else if (isa >= 2 && ld == 64) sddmm_avx2_ld64(nrows, ptr, widx, col, DY, X, G, acc);
    else if (isa >= 2 && ld == 32) sddmm_avx2_ld32(nrows, ptr, widx, col, DY, X, G, acc);
    else if (isa >= 2 && ld % 16 == 0) sddmm_avx2(nrows, ld, ptr, widx, col, DY, X, G, acc);
    else sddmm_scalar(nrows, ld, ptr, widx, col, DY, X, G, acc);
}

// One row at a time, one sequential add chain each.
static void row_sums_scalar(int nrows, int n, int ld, const float *Y, float *out) {
    for (int r = 0; r < nrows; r++) {
        const float *y = Y + (long)r * ld;
        float s = 0;
        for (int t = 0; t < n; t++) s += y[t];
        out[r] = s;
    }
}

// Rows r0 ..< r0 + 8 * blocks (blocks 1 or 2) with one vector accumulator per eight rows (lane
// i = row i): an 8x8 block transposed in registers gives the columns t, t+1, ... of the eight
// rows, added in that order, so each row is summed from +0 in the order t = 0, 1, ... as in
// row_sums_scalar (the same bits), while two blocks keep two add chains in flight instead of one
// per row.
__attribute__((target("avx2,fma")))
static inline void row_sums_block_avx2(int blocks, int n, int ld, const float *Y, float *out) {
    const float *pa[8], *pb[8];
    for (int i = 0; i < 8; i++) pa[i] = Y + (long)i * ld, pb[i] = Y + (long)(8 + i) * ld;
    __m256 a = _mm256_setzero_ps(), b = _mm256_setzero_ps(), o[8];
    int t = 0;
    for (; t + 8 <= n; t += 8) {
        transpose8x8_regs(pa, t, o);
        for (int j = 0; j < 8; j++) a = _mm256_add_ps(a, o[j]);
        if (blocks == 2) {
            transpose8x8_regs(pb, t, o);
            for (int j = 0; j < 8; j++) b = _mm256_add_ps(b, o[j]);
        }
    }
    float s[16];
    _mm256_storeu_ps(s, a);
    _mm256_storeu_ps(s + 8, b);
    for (int i = 0; i < 8 * blocks; i++) {
        const float *y = Y + (long)i * ld;
        for (int u = t; u < n; u++) s[i] += y[u];
        out[i] = s[i];
    }
}

__attribute__((target("avx2,fma")))
static void row_sums_avx2(int nrows, int n, int ld, const float *Y, float *out) {
    int r = 0;
    for (; r + 16 <= nrows; r += 16) row_sums_block_avx2(2, n, ld, Y + (long)r * ld, out + r);
    for (; r + 8 <= nrows; r += 8) row_sums_block_avx2(1, n, ld, Y + (long)r * ld, out + r);
    row_sums_scalar(nrows - r, n, ld, Y + (long)r * ld, out + r);
}

void psk_row_sums(int nrows, int n, int ld, const float *Y, float *out) {
    if (psk_isa() >= 2) row_sums_avx2(nrows, n, ld, Y, out);
    else row_sums_scalar(nrows, n, ld, Y, out);
}

// --------------------------------------------------------------- direct sparse convolution

// The SpMM and SDDMM above with `X + off[k]` in place of `X + src[k]*ld` (see the header): a
// masked convolution's live taps over phase planes of its input. Every nonzero reads one
// contiguous run, the pruned taps cost nothing and no im2col columns are built.

static void ospmm_scalar(int nrows, int n, const int32_t *ptr, const int32_t *widx, const int32_t *off,
                         const float *W, const float *X, const float *bias, float *Y, long ldy) {
    for (int r = 0; r < nrows; r++) {
        float *y = Y + (long)r * ldy;
        float b0 = bias ? bias[r] : 0.0f;
        for (int t = 0; t < n; t++) y[t] = b0;
        for (int k = ptr[r]; k < ptr[r + 1]; k++) {
            float w = W[widx[k]];
            const float *x = X + off[k];
            for (int t = 0; t < n; t++) y[t] += w * x[t];
        }
    }
}

__attribute__((target("avx2,fma")))
static void ospmm_avx2(int nrows, int n, const int32_t *ptr, const int32_t *widx, const int32_t *off,
                       const float *W, const float *X, const float *bias, float *Y, long ldy) {
    for (int r = 0; r < nrows; r++) {
        float *y = Y + (long)r * ldy;
        __m256 b = _mm256_set1_ps(bias ? bias[r] : 0.0f);
        const int k0 = ptr[r], k1 = ptr[r + 1];
        int t0 = 0;
        for (; t0 + 64 <= n; t0 += 64) {
            __m256 a0 = b, a1 = b, a2 = b, a3 = b, a4 = b, a5 = b, a6 = b, a7 = b;
            for (int k = k0; k < k1; k++) {
                __m256 w = _mm256_set1_ps(W[widx[k]]);
                const float *x = X + off[k] + t0;
                a0 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x + 0), a0);
                a1 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x + 8), a1);
                a2 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x + 16), a2);
                a3 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x + 24), a3);
                a4 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x + 32), a4);
                a5 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x + 40), a5);
                a6 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x + 48), a6);
                a7 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x + 56), a7);
            }
            _mm256_storeu_ps(y + t0 + 0, a0); _mm256_storeu_ps(y + t0 + 8, a1);
            _mm256_storeu_ps(y + t0 + 16, a2); _mm256_storeu_ps(y + t0 + 24, a3);
            _mm256_storeu_ps(y + t0 + 32, a4); _mm256_storeu_ps(y + t0 + 40, a5);
            _mm256_storeu_ps(y + t0 + 48, a6); _mm256_storeu_ps(y + t0 + 56, a7);
        }
        // a wide row of a small output (96 lanes for an 8x8 output of a 12x12 input) ends in
        // a 32-lane block: four independent FMA chains instead of two
        for (; t0 + 32 <= n; t0 += 32) {
            __m256 a0 = b, a1 = b, a2 = b, a3 = b;
            for (int k = k0; k < k1; k++) {
                __m256 w = _mm256_set1_ps(W[widx[k]]);
                const float *x = X + off[k] + t0;
                a0 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x + 0), a0);
                a1 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x + 8), a1);
                a2 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x + 16), a2);
                a3 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x + 24), a3);
            }
            _mm256_storeu_ps(y + t0 + 0, a0); _mm256_storeu_ps(y + t0 + 8, a1);
            _mm256_storeu_ps(y + t0 + 16, a2); _mm256_storeu_ps(y + t0 + 24, a3);
        }
        for (; t0 < n; t0 += 16) {
            __m256 a0 = b, a1 = b;
            for (int k = k0; k < k1; k++) {
                __m256 w = _mm256_set1_ps(W[widx[k]]);
                const float *x = X + off[k] + t0;
                a0 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x + 0), a0);
                a1 = _mm256_fmadd_ps(w, _mm256_loadu_ps(x + 8), a1);
            }
            _mm256_storeu_ps(y + t0 + 0, a0); _mm256_storeu_ps(y + t0 + 8, a1);
        }
    }
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
static void ospmm_avx512(int nrows, int n, const int32_t *ptr, const int32_t *widx, const int32_t *off,
                         const float *W, const float *X, const float *bias, float *Y, long ldy) {
    for (int r = 0; r < nrows; r++) {
        float *y = Y + (long)r * ldy;
        __m512 b = _mm512_set1_ps(bias ? bias[r] : 0.0f);
        const int k0 = ptr[r], k1 = ptr[r + 1];
        int t0 = 0;
        for (; t0 + 64 <= n; t0 += 64) {
            __m512 a0 = b, a1 = b, a2 = b, a3 = b;
            for (int k = k0; k < k1; k++) {
                __m512 w = _mm512_set1_ps(W[widx[k]]);
                const float *x = X + off[k] + t0;
                a0 = _mm512_fmadd_ps(w, _mm512_loadu_ps(x + 0), a0);
                a1 = _mm512_fmadd_ps(w, _mm512_loadu_ps(x + 16), a1);
                a2 = _mm512_fmadd_ps(w, _mm512_loadu_ps(x + 32), a2);
                a3 = _mm512_fmadd_ps(w, _mm512_loadu_ps(x + 48), a3);
            }
            _mm512_storeu_ps(y + t0 + 0, a0); _mm512_storeu_ps(y + t0 + 16, a1);
            _mm512_storeu_ps(y + t0 + 32, a2); _mm512_storeu_ps(y + t0 + 48, a3);
        }
        for (; t0 + 32 <= n; t0 += 32) {
            // two chains, even and odd k, per 16 lanes
            __m512 a0 = b, a1 = b, c0 = _mm512_setzero_ps(), c1 = c0;
            int k = k0;
            for (; k + 2 <= k1; k += 2) {
                __m512 w = _mm512_set1_ps(W[widx[k]]), v = _mm512_set1_ps(W[widx[k + 1]]);
                const float *x = X + off[k] + t0, *u = X + off[k + 1] + t0;
                a0 = _mm512_fmadd_ps(w, _mm512_loadu_ps(x + 0), a0);
                a1 = _mm512_fmadd_ps(w, _mm512_loadu_ps(x + 16), a1);
                c0 = _mm512_fmadd_ps(v, _mm512_loadu_ps(u + 0), c0);
                c1 = _mm512_fmadd_ps(v, _mm512_loadu_ps(u + 16), c1);
            }
            if (k < k1) {
                __m512 w = _mm512_set1_ps(W[widx[k]]);
                a0 = _mm512_fmadd_ps(w, _mm512_loadu_ps(X + off[k] + t0), a0);
                a1 = _mm512_fmadd_ps(w, _mm512_loadu_ps(X + off[k] + t0 + 16), a1);
            }
            _mm512_storeu_ps(y + t0, _mm512_add_ps(a0, c0));
            _mm512_storeu_ps(y + t0 + 16, _mm512_add_ps(a1, c1));
        }
        for (; t0 < n; t0 += 16) {
            __m512 a0 = b;
            for (int k = k0; k < k1; k++)
                a0 = _mm512_fmadd_ps(_mm512_set1_ps(W[widx[k]]), _mm512_loadu_ps(X + off[k] + t0), a0);
            _mm512_storeu_ps(y + t0, a0);
        }
    }
}

void psk_ospmm(int nrows, int n, const int32_t *ptr, const int32_t *widx, const int32_t *off,
               const float *W, const float *X, const float *bias, float *Y, long ldy) {
    int isa = psk_isa();
    if (isa >= 3 && n % 16 == 0) ospmm_avx512(nrows, n, ptr, widx, off, W, X, bias, Y, ldy);
    else if (isa >= 2 && n % 16 == 0) ospmm_avx2(nrows, n, ptr, widx, off, W, X, bias, Y, ldy);
    else ospmm_scalar(nrows, n, ptr, widx, off, W, X, bias, Y, ldy);
}

#define OSTORE(i, v) do { float v_ = (v); int32_t i_ = (i); G[i_] = acc ? G[i_] + v_ : v_; } while (0)

static void osddmm_scalar(int nrows, int n, const int32_t *ptr, const int32_t *widx, const int32_t *off,
                          const float *DY, long ldy, const float *X, float *G, int acc) {
    for (int r = 0; r < nrows; r++) {
        const float *dy = DY + (long)r * ldy;
        for (int k = ptr[r]; k < ptr[r + 1]; k++) {
            const float *x = X + off[k];
            float s = 0;
            for (int t = 0; t < n; t++) s += dy[t] * x[t];
            OSTORE(widx[k], s);
        }
    }
}

__attribute__((target("avx2,fma")))
static void osddmm_avx2(int nrows, int n, const int32_t *ptr, const int32_t *widx, const int32_t *off,
                        const float *DY, long ldy, const float *X, float *G, int acc) {
    for (int r = 0; r < nrows; r++) {
        const float *dy = DY + (long)r * ldy;
        int k = ptr[r];
        const int k1 = ptr[r + 1];
        for (; k + 2 <= k1; k += 2) {
            const float *x = X + off[k], *u = X + off[k + 1];
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, c0 = a0, c1 = a0;
            for (int t = 0; t < n; t += 16) {
                __m256 d0 = _mm256_loadu_ps(dy + t), d1 = _mm256_loadu_ps(dy + t + 8);
                a0 = _mm256_fmadd_ps(d0, _mm256_loadu_ps(x + t), a0);
                a1 = _mm256_fmadd_ps(d1, _mm256_loadu_ps(x + t + 8), a1);
                c0 = _mm256_fmadd_ps(d0, _mm256_loadu_ps(u + t), c0);
                c1 = _mm256_fmadd_ps(d1, _mm256_loadu_ps(u + t + 8), c1);
            }
            OSTORE(widx[k], hsum256(_mm256_add_ps(a0, a1)));
            OSTORE(widx[k + 1], hsum256(_mm256_add_ps(c0, c1)));
        }
        for (; k < k1; k++) {
            const float *x = X + off[k];
            __m256 a0 = _mm256_setzero_ps(), a1 = a0;
            for (int t = 0; t < n; t += 16) {
                a0 = _mm256_fmadd_ps(_mm256_loadu_ps(dy + t), _mm256_loadu_ps(x + t), a0);
                a1 = _mm256_fmadd_ps(_mm256_loadu_ps(dy + t + 8), _mm256_loadu_ps(x + t + 8), a1);
            }
            OSTORE(widx[k], hsum256(_mm256_add_ps(a0, a1)));
        }
    }
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
static void osddmm_avx512(int nrows, int n, const int32_t *ptr, const int32_t *widx, const int32_t *off,
                          const float *DY, long ldy, const float *X, float *G, int acc) {
    for (int r = 0; r < nrows; r++) {
        const float *dy = DY + (long)r * ldy;
        int k = ptr[r];
        const int k1 = ptr[r + 1];
        for (; k + 4 <= k1; k += 4) {
            const float *x0 = X + off[k], *x1 = X + off[k + 1], *x2 = X + off[k + 2], *x3 = X + off[k + 3];
            __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            for (int t = 0; t < n; t += 16) {
                __m512 d = _mm512_loadu_ps(dy + t);
                a0 = _mm512_fmadd_ps(d, _mm512_loadu_ps(x0 + t), a0);
                a1 = _mm512_fmadd_ps(d, _mm512_loadu_ps(x1 + t), a1);
                a2 = _mm512_fmadd_ps(d, _mm512_loadu_ps(x2 + t), a2);
                a3 = _mm512_fmadd_ps(d, _mm512_loadu_ps(x3 + t), a3);
            }
            float s[4];
            _mm_storeu_ps(s, hsum4x512(a0, a1, a2, a3));
            OSTORE(widx[k], s[0]); OSTORE(widx[k + 1], s[1]); OSTORE(widx[k + 2], s[2]); OSTORE(widx[k + 3], s[3]);
        }
        for (; k < k1; k++) {
            const float *x = X + off[k];
            __m512 a0 = _mm512_setzero_ps();
            for (int t = 0; t < n; t += 16) a0 = _mm512_fmadd_ps(_mm512_loadu_ps(dy + t), _mm512_loadu_ps(x + t), a0);
            OSTORE(widx[k], _mm512_reduce_add_ps(a0));
        }
    }
}
#undef OSTORE

void psk_osddmm(int nrows, int n, const int32_t *ptr, const int32_t *widx, const int32_t *off,
                const float *DY, long ldy, const float *X, float *G, int acc) {
    int isa = psk_isa();
    if (isa >= 3 && n % 16 == 0) osddmm_avx512(nrows, n, ptr, widx, off, DY, ldy, X, G, acc);
    else if (isa >= 2 && n % 16 == 0) osddmm_avx2(nrows, n, ptr, widx, off, DY, ldy, X, G, acc);
    else osddmm_scalar(nrows, n, ptr, widx, off, DY, ldy, X, G, acc);
}

void psk_phase_planes(const float *x, int C, int H, int W, int s, int pad, int Hs, int Ws, long ps, float *dst) {
    for (int c = 0; c < C; c++)
        for (int a = 0; a < s; a++)
            for (int b = 0; b < s; b++) {
                float *p = dst + ((long)(c * s + a) * s + b) * ps;
                memset(p, 0, sizeof(float) * (size_t)ps);
                for (int u = 0; u < Hs; u++) {
                    int h = u * s + a - pad;
                    if (h < 0 || h >= H) continue;
                    const float *row = x + ((long)c * H + h) * W;
                    float *out = p + (long)u * Ws;
                    for (int v = 0; v < Ws; v++) {
                        int w = v * s + b - pad;
                        if (w >= 0 && w < W) out[v] = row[w];
                    }
                }
            }
}

void psk_phase_planes_back(const float *src, int C, int H, int W, int s, int pad, int Hs, int Ws, long ps, float *dx) {
    (void)Hs;
    for (int c = 0; c < C; c++)
        for (int h = 0; h < H; h++) {
            int a = (h + pad) % s, u = (h + pad) / s;
            float *out = dx + ((long)c * H + h) * W;
            for (int w = 0; w < W; w++) {
                int b = (w + pad) % s, v = (w + pad) / s;
                out[w] = src[((long)(c * s + a) * s + b) * ps + (long)u * Ws + v];
            }
        }
}
